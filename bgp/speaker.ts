// The BGP speaker: one BgpSession per peer, Adj-RIB-In → Loc-RIB → Adj-RIB-Out, route sink
// events for felix, End-of-RIB, graceful restart (helper and restarting speaker), and setPeers()
// diffing. Sockets live in BgpSession; selection and export rules are pure (speaker/select.ts).
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endOfRib, isEndOfRib, packUpdates, type RouteGroup } from './codec/index.js';
import type { AfiSafi, CodecContext, UpdateMessage } from './codec/types.js';
import { BgpSession } from './fsm/session.js';
import type { FsmConfig, NegotiatedSession } from './fsm/types.js';
import { DEFAULT_MRAI_MS } from './rib/mrai.js';
import { AttrInterner } from './speaker/intern.js';
import { best, exportRoute, type Candidate } from './speaker/select.js';
import type { OriginatedRoute, PeerConfig, PeerStatus, RouteStatus, SpeakerConfig } from './speaker/types.js';
import { prefixToString, type PathAttributes, type Prefix, type RouteSink } from './types.js';

export type { PeerConfig, SpeakerConfig, PeerStatus, RouteStatus } from './speaker/types.js';

interface AdjIn {
  prefix: Prefix;
  attrs: PathAttributes;
  nextHop: string;
  stale: boolean;
}

interface Peer {
  config: PeerConfig;
  session: BgpSession;
  adjIn: Map<string, AdjIn>;
  /**
   * Output mode: idle (no session), sync (sending its own queue: the initial table, a route
   * refresh, or a resync after a stall), grouped (fed by its update group), stalled (its socket
   * queue passed the limit; waiting for 'drain', changes accumulate in `pending`).
   */
  mode: 'idle' | 'sync' | 'grouped' | 'stalled';
  /** Own queue outside the group: prefix key → the peer may hold an older advertisement. */
  pending: Map<string, boolean>;
  flushScheduled: boolean;
  group?: OutGroup;
  /** When the last batch of changes started going out (MRAI), ms. */
  lastBatchAt?: number;
  eorFrom: Set<string>;
  /** Peer restarting (helper): stale timer. */
  staleTimer?: NodeJS.Timeout;
  rejected: number;
  ebgp: boolean;
  routerId: string;
  /** End-of-RIB is due once pending is empty (initial table sent). */
  eorPending: boolean;
  /** The GR capability the peer advertised on its last session (needed once that session is gone). */
  peerGr?: { restartTime: number };
}

/**
 * An update group: established peers with the same outbound policy and the same codec context.
 * Each change is exported once for the group and encoded once; the same Buffers go to every
 * member's socket. `adjOut` is what every member holds (prefix key → attrs+next hop key).
 */
interface OutGroup {
  key: string;
  members: Set<Peer>;
  pending: Set<string>;
  adjOut: Map<string, string>;
  flushScheduled: boolean;
  lastBatchAt?: number;
  policy: OutPolicy;
  ctx: CodecContext;
}

/** The group-wide export inputs (everything exportRoute reads about the target). */
interface OutPolicy {
  address: string;
  ebgp: boolean;
  rrClient: boolean;
  selfAddress: string | undefined;
  keepOriginalNextHop?: boolean;
  afis: number[];
}

/** One exported route ready to pack: its group key (attrs + next hop) and pack inputs. */
interface OutRoute {
  gk: string;
  attrs: PathAttributes;
  prefix: Prefix;
  v6NextHop?: string;
}

/** Encoded frames of one batch, by part (withdrawals, then one part per attribute set). */
interface PackedBatch {
  all: Buffer[];
  parts: Array<{ originatorId?: string; frames: Buffer[] }>;
}

/** Prefixes exported per group (or syncing peer) per event-loop turn. */
const FLUSH_CHUNK = 4000;

/**
 * Per-socket back-pressure: bytes a peer may have queued in user space before it is taken out
 * of its group. A stalled peer costs at most this plus one batch, and a set of changed prefix
 * keys (bounded by the table size); when its socket drains it re-syncs exactly those prefixes
 * from the Loc-RIB and rejoins its group. Its hold timer is its own business.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

const keyToPrefix = (k: string): Prefix => {
  const [address, len] = k.split('/');
  return { family: isIP(address) === 6 ? 6 : 4, address, length: Number(len) };
};

const famKey = (f: AfiSafi): string => `${f.afi}/${f.safi}`;
const keyOf = (p: Prefix): string => prefixToString(p);
const normalize = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

export class Speaker {
  private readonly peers = new Map<string, Peer>();
  private readonly local = new Map<string, OriginatedRoute>();
  private readonly locRib = new Map<string, Candidate>();
  private readonly servers: Server[] = [];
  private deferred: boolean;
  private deferralTimer?: NodeJS.Timeout;
  private stopped = false;
  /** We have route-reflector clients: iBGP routes are reflected (RFC 4456). */
  private reflector = false;
  /** Routes with equal attributes share one object, also across UPDATEs (memory per route). */
  private readonly attrTable = new AttrInterner();
  private readonly groups = new Map<string, OutGroup>();
  /** Established peers outside any group (sync or stalled): changes go to their own queue. */
  private readonly unsynced = new Set<Peer>();
  /** Counters for tests and status: group batches encoded, writes of them, stalls, resyncs. */
  readonly outStats = { groupBatches: 0, groupWrites: 0, stalls: 0, resyncs: 0 };

  constructor(
    readonly config: SpeakerConfig,
    private readonly sink: RouteSink,
    private readonly log: Logger,
  ) {
    this.deferred = !!config.gracefulRestart?.restarting;
  }

  async start(peers: PeerConfig[] = []): Promise<void> {
    const port = this.config.listenPort ?? 179;
    if (port !== 0) {
      for (const addr of this.config.listenAddresses ?? ['::']) {
        const srv = createServer((s) => this.onIncoming(s));
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ port, host: addr }, () => resolve());
        });
        srv.on('error', (err) => this.log.error({ err }, 'BGP listener error'));
        this.servers.push(srv);
      }
    }
    if (this.deferred) {
      const t = this.config.gracefulRestart?.deferralTime ?? 120;
      this.deferralTimer = setTimeout(() => this.endDeferral('deferral timer expired'), t * 1000);
      this.deferralTimer.unref();
    }
    this.setPeers(peers);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.peers.values()) {
      p.session.stop(2, 'speaker shutting down');
      if (p.staleTimer) clearTimeout(p.staleTimer);
    }
    if (this.deferralTimer) clearTimeout(this.deferralTimer);
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
  }

  /** Applies a new peer set: adds, removes and restarts only what changed. */
  setPeers(configs: PeerConfig[]): void {
    const want = new Map(configs.map((c) => [normalize(c.address), c]));
    for (const [addr, p] of this.peers) {
      const next = want.get(addr);
      if (!next) {
        this.removePeer(p, 3, 'peer de-configured');
      } else if (JSON.stringify(next) !== JSON.stringify(p.config)) {
        this.removePeer(p, 6, 'peer configuration changed');
      }
    }
    for (const [addr, c] of want) if (!this.peers.has(addr)) this.addPeer(addr, c);
    this.reflector = configs.some((c) => c.rrClient);
    // A removed peer may have been the last one whose End-of-RIB we were waiting for.
    this.checkDeferral();
  }

  /** Originates prefixes with the given attributes (ORIGIN IGP and an empty AS_PATH by default). */
  announce(prefixes: Prefix[], attrs: Partial<PathAttributes> = {}): void {
    for (const prefix of prefixes) {
      const full: PathAttributes = { origin: 0, asPath: [], ...attrs };
      this.local.set(keyOf(prefix), { prefix, attrs: full });
      this.recompute(keyOf(prefix));
    }
  }

  withdraw(prefixes: Prefix[]): void {
    for (const p of prefixes) {
      if (this.local.delete(keyOf(p))) this.recompute(keyOf(p));
    }
  }

  originated(): OriginatedRoute[] {
    return [...this.local.values()];
  }

  peerStatus(): PeerStatus[] {
    return [...this.peers.values()].map((p) => {
      const s = p.session;
      const info = s.state === 'Established' ? 'Established' : [s.fsm.lastError, s.lastNotification].filter(Boolean).join('; ');
      const stale = [...p.adjIn.values()].some((r) => r.stale);
      return {
        name: p.config.name ?? p.config.address,
        address: p.config.address,
        asNumber: p.config.asNumber,
        type: p.config.type,
        state: s.state,
        since: new Date(s.since).toISOString(),
        info,
        prefixesReceived: p.adjIn.size + p.rejected,
        prefixesAccepted: p.adjIn.size,
        prefixesAdvertised: p.mode === 'grouped' && p.group ? p.group.adjOut.size : 0,
        ...(stale ? { gracefulRestart: 'stale' as const } : {}),
      };
    });
  }

  routes(): RouteStatus[] {
    const out: RouteStatus[] = [];
    const fmt = (prefix: Prefix, attrs: PathAttributes, nextHop: string, source: string, isBest: boolean, stale?: boolean): RouteStatus => ({
      prefix: prefixToString(prefix),
      nextHop,
      source,
      asPath: attrs.asPath.map((s) => (s.type === 1 ? `{${s.asns.join(' ')}}` : s.asns.join(' '))).join(' '),
      ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
      ...(attrs.communities?.length ? { communities: attrs.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
      best: isBest,
      ...(stale ? { stale } : {}),
    });
    for (const [k, r] of this.local) out.push(fmt(r.prefix, r.attrs, '', 'local', this.locRib.get(k)?.source === 'local'));
    for (const [addr, p] of this.peers)
      for (const [k, r] of p.adjIn) out.push(fmt(r.prefix, r.attrs, r.nextHop, addr, this.locRib.get(k)?.source === addr, r.stale));
    return out;
  }

  /** Output side of one peer (diagnostics, tests): mode, bytes queued on its socket, own queue, group size. */
  outQueue(address: string): { mode: Peer['mode']; queuedBytes: number; pending: number; groupMembers: number } | undefined {
    const p = this.peers.get(normalize(address));
    return p && { mode: p.mode, queuedBytes: p.session.queuedBytes, pending: p.pending.size, groupMembers: p.group?.members.size ?? 0 };
  }

  /** The Loc-RIB best paths (prefix → candidate). */
  bestPaths(): Candidate[] {
    return [...this.locRib.values()];
  }

  /**
   * The GR capability for new OPENs: R and F only while our own restart is in progress (selection
   * deferred), F only for the families whose forwarding state survived; N always (RFC 8538).
   */
  private grCapability(): FsmConfig['gracefulRestart'] {
    const gr = this.config.gracefulRestart;
    if (!gr) return undefined;
    const restarting = this.deferred;
    const fwd = gr.forwardingFamilies;
    return {
      restartTime: gr.restartTime ?? 120,
      restarting,
      forwardingState: restarting,
      ...(restarting && fwd ? { forwardingAfis: fwd.map((f) => (f === 4 ? 1 : 2)) } : {}),
      notification: true,
    };
  }

  /** Selection and sending are held back: we are restarting and not every peer's End-of-RIB is in. */
  get selectionDeferred(): boolean {
    return this.deferred;
  }

  private addPeer(addr: string, c: PeerConfig): void {
    const families = (this.config.families ?? [4, 6]).map((f) => ({ afi: f === 4 ? 1 : 2, safi: 1 }));
    const session = new BgpSession({
      peerAddress: addr,
      peerPort: c.port,
      localAddress: c.sourceAddress,
      logger: this.log.child({ peer: addr }),
      fsm: {
        localAs: this.config.asNumber,
        peerAs: c.asNumber,
        routerId: this.config.routerId,
        holdTime: c.holdTime ?? this.config.holdTime,
        connectRetryTime: this.config.connectRetryTime,
        connectRetryMax: this.config.connectRetryMax,
        errorWait: this.config.errorWait,
        passive: c.passive,
        families,
        gracefulRestart: this.grCapability(),
      },
    });
    const peer: Peer = {
      config: c,
      session,
      adjIn: new Map(),
      mode: 'idle',
      pending: new Map(),
      flushScheduled: false,
      eorFrom: new Set(),
      rejected: 0,
      ebgp: c.asNumber !== this.config.asNumber,
      routerId: '',
      eorPending: false,
    };
    session.listeners = {
      established: (s) => this.onEstablished(peer, s),
      down: (reason, n) => this.onDown(peer, reason, !n.graceful),
      update: (u) => this.onUpdate(peer, u),
      routeRefresh: () => this.resend(peer),
    };
    this.peers.set(addr, peer);
    session.start();
  }

  private removePeer(p: Peer, subcode: number, reason: string): void {
    p.session.stop(subcode, reason);
    if (p.staleTimer) clearTimeout(p.staleTimer);
    this.resetOut(p);
    this.peers.delete(normalize(p.config.address));
    const keys = [...p.adjIn.keys()];
    p.adjIn.clear();
    for (const k of keys) this.recompute(k);
  }

  private onIncoming(socket: Socket): void {
    const remote = normalize(socket.remoteAddress ?? '');
    const p = this.peers.get(remote);
    if (!p || this.stopped) {
      this.log.info({ remote }, 'refusing BGP connection from an unconfigured address');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    p.session.accept(socket);
  }

  private onEstablished(p: Peer, s: NegotiatedSession): void {
    p.routerId = s.peerRouterId;
    p.peerGr = s.peerGracefulRestart;
    p.eorFrom.clear();
    this.resetOut(p);
    if (p.staleTimer) {
      // The restarting peer is back: keep its stale routes until its End-of-RIB (or this timer).
      clearTimeout(p.staleTimer);
      if (s.peerGracefulRestart) {
        p.staleTimer = setTimeout(() => this.purgeStale(p, 'stale timer expired after restart'), Math.max(s.peerGracefulRestart.restartTime, 1) * 1000 * 3);
        p.staleTimer.unref();
      } else this.purgeStale(p, 'peer came back without graceful restart');
    }
    if (!this.deferred) this.sendInitial(p);
    else this.checkDeferral(); // a peer restarting too (R) does not hold selection back
  }

  private onDown(p: Peer, reason: string, notified: boolean): void {
    this.resetOut(p);
    const gr = p.session.fsm.config.gracefulRestart ? p.peerGr : undefined;
    // RFC 4724 helper: routes of a peer that advertised GR survive a TCP failure, and with the N bit
    // (RFC 8538) any NOTIFICATION but Hard Reset — the FSM decides which (`graceful`).
    if (gr && !notified && !this.stopped && p.adjIn.size) {
      for (const r of p.adjIn.values()) r.stale = true;
      this.log.info({ peer: p.config.address, restartTime: gr.restartTime, routes: p.adjIn.size }, 'peer restarting: keeping its routes as stale');
      if (p.staleTimer) clearTimeout(p.staleTimer);
      p.staleTimer = setTimeout(() => this.purgeStale(p, 'restart time expired'), gr.restartTime * 1000);
      p.staleTimer.unref();
      return;
    }
    this.log.info({ peer: p.config.address, reason }, 'dropping routes of peer');
    const keys = [...p.adjIn.keys()];
    p.adjIn.clear();
    for (const k of keys) this.recompute(k);
  }

  private purgeStale(p: Peer, why: string): void {
    if (p.staleTimer) clearTimeout(p.staleTimer);
    p.staleTimer = undefined;
    const keys: string[] = [];
    for (const [k, r] of p.adjIn) if (r.stale) keys.push(k);
    if (keys.length) this.log.info({ peer: p.config.address, routes: keys.length, why }, 'purging stale routes');
    for (const k of keys) p.adjIn.delete(k);
    for (const k of keys) this.recompute(k);
  }

  private onUpdate(p: Peer, u: UpdateMessage): void {
    const eor = isEndOfRib(u);
    if (eor) {
      p.eorFrom.add(famKey(eor));
      this.log.debug({ peer: p.config.address, family: famKey(eor) }, 'End-of-RIB received');
      const fam = eor.afi === 1 ? 4 : 6;
      const stale = [...p.adjIn.entries()].filter(([, r]) => r.stale && r.prefix.family === fam).map(([k]) => k);
      for (const k of stale) p.adjIn.delete(k);
      for (const k of stale) this.recompute(k);
      if (![...p.adjIn.values()].some((r) => r.stale) && p.staleTimer) {
        clearTimeout(p.staleTimer);
        p.staleTimer = undefined;
      }
      this.checkDeferral();
      return;
    }
    const changed: string[] = [];
    for (const w of [...u.withdrawn, ...(u.mpUnreach?.withdrawn ?? [])]) {
      const k = keyOf(w);
      if (p.adjIn.delete(k)) changed.push(k);
    }
    const attrs = u.attributes && this.attrTable.intern(u.attributes);
    const add = (prefix: Prefix, nextHop: string | undefined): void => {
      const k = keyOf(prefix);
      if (!attrs || !nextHop || !this.acceptable(p, attrs)) {
        p.rejected++;
        if (p.adjIn.delete(k)) changed.push(k);
        return;
      }
      p.adjIn.set(k, { prefix: { family: prefix.family, address: prefix.address, length: prefix.length }, attrs, nextHop, stale: false });
      changed.push(k);
    };
    for (const n of u.nlri) add(n, u.attributes?.nextHop);
    if (u.mpReach) {
      const nh = u.mpReach.nextHops.find((a) => !a.toLowerCase().startsWith('fe80')) ?? u.mpReach.nextHops[0];
      for (const n of u.mpReach.nlri) add(n, nh);
    }
    for (const k of changed) this.recompute(k);
  }

  /** Import checks: AS_PATH loop (eBGP), ORIGINATOR_ID / CLUSTER_LIST loops (RFC 4456). */
  private acceptable(p: Peer, a: PathAttributes): boolean {
    if (p.ebgp && a.asPath.some((s) => s.asns.includes(this.config.asNumber))) return false;
    if (a.originatorId === this.config.routerId) return false;
    if (a.clusterList?.includes(this.config.clusterId ?? this.config.routerId)) return false;
    return true;
  }

  private candidates(k: string): Candidate[] {
    const out: Candidate[] = [];
    const l = this.local.get(k);
    if (l) out.push({ prefix: l.prefix, attrs: l.attrs, nextHop: '', source: 'local', ebgp: false, peerRouterId: this.config.routerId });
    for (const [addr, p] of this.peers) {
      const r = p.adjIn.get(k);
      if (r) out.push({ prefix: r.prefix, attrs: r.attrs, nextHop: r.nextHop, source: addr, ebgp: p.ebgp, peerRouterId: p.routerId, fromRrClient: !!p.config.rrClient, stale: r.stale });
    }
    return out;
  }

  private recompute(k: string): void {
    if (this.deferred) return; // restarting: selection waits for peers' End-of-RIB
    const prev = this.locRib.get(k);
    const next = best(this.candidates(k));
    if (next) this.locRib.set(k, next);
    else this.locRib.delete(k);
    this.emitSink(k, prev, next);
    for (const g of this.groups.values()) {
      g.pending.add(k);
      this.scheduleGroupFlush(g);
    }
    for (const p of this.unsynced) {
      // Already sent in this sync (or held from before a stall): the peer may have an old copy.
      if (!p.pending.has(k)) p.pending.set(k, true);
      if (p.mode === 'sync') this.scheduleFlush(p);
    }
  }

  private emitSink(k: string, prev: Candidate | undefined, next: Candidate | undefined): void {
    const learned = (c: Candidate | undefined): c is Candidate => !!c && c.source !== 'local';
    if (learned(next)) {
      if (!learned(prev) || prev.nextHop !== next.nextHop || prev.source !== next.source || prev.attrs !== next.attrs)
        this.sink.onRoute({ type: 'install', prefix: next.prefix, nextHops: [next.nextHop], sourcePeer: next.source, attrs: next.attrs });
    } else if (learned(prev)) {
      this.sink.onRoute({ type: 'withdraw', prefix: prev.prefix, sourcePeer: prev.source });
    }
    void k;
  }

  /**
   * Changes go out on the next event-loop turn, or — with a minimum route advertisement interval
   * (config.mraiMs, default 0 like BIRD and GoBGP) — no sooner than that after the previous batch,
   * so churn inside the interval collapses into one UPDATE per prefix. The remaining chunks of a
   * batch in progress (`more`) are never held back.
   */
  private scheduleFlush(p: Peer, more = false): void {
    if (p.flushScheduled) return;
    p.flushScheduled = true;
    const run = (): void => {
      p.flushScheduled = false;
      if (!more) p.lastBatchAt = Date.now();
      this.flush(p);
    };
    const wait = more ? 0 : (p.lastBatchAt ?? -Infinity) + (this.config.mraiMs ?? DEFAULT_MRAI_MS.ibgp) - Date.now();
    if (wait > 0) setTimeout(run, wait).unref();
    else setImmediate(run);
  }

  /** As scheduleFlush, for a whole group (the MRAI is kept per group: one batch feeds all members). */
  private scheduleGroupFlush(g: OutGroup, more = false): void {
    if (g.flushScheduled) return;
    g.flushScheduled = true;
    const run = (): void => {
      g.flushScheduled = false;
      if (!more) g.lastBatchAt = Date.now();
      if (this.groups.get(g.key) === g) this.flushGroup(g);
    };
    const wait = more ? 0 : (g.lastBatchAt ?? -Infinity) + (this.config.mraiMs ?? DEFAULT_MRAI_MS.ibgp) - Date.now();
    if (wait > 0) setTimeout(run, wait).unref();
    else setImmediate(run);
  }

  private policyOf(p: Peer): OutPolicy {
    return {
      address: normalize(p.config.address),
      ebgp: p.ebgp,
      rrClient: !!p.config.rrClient,
      selfAddress: p.session.localAddress,
      keepOriginalNextHop: p.config.keepOriginalNextHop,
      afis: (p.session.negotiated?.families ?? []).map((f) => f.afi),
    };
  }

  /**
   * Peers share a group when everything the export and the encoding depend on is equal. eBGP
   * peers get a group each (split horizon: a route never goes back to the AS it came from);
   * iBGP peers of one role share one.
   */
  private groupKeyOf(p: Peer, ctx: CodecContext): string {
    const pol = this.policyOf(p);
    return JSON.stringify([pol.ebgp ? pol.address : '', pol.ebgp, pol.rrClient, pol.selfAddress ?? '', !!pol.keepOriginalNextHop, pol.afis, ctx]);
  }

  /** What the policy's peers get for prefix k, or undefined (nothing / withdraw). */
  private routeFor(pol: OutPolicy, k: string): OutRoute | undefined {
    const c = this.locRib.get(k);
    if (!c) return undefined;
    if (!pol.afis.includes(c.prefix.family === 4 ? 1 : 2)) return undefined;
    const e = exportRoute(c, {
      address: pol.address,
      ebgp: pol.ebgp,
      rrClient: pol.rrClient,
      localAs: this.config.asNumber,
      routerId: this.config.routerId,
      clusterId: this.config.clusterId ?? this.config.routerId,
      reflector: this.reflector,
      selfAddress: pol.selfAddress,
      keepOriginalNextHop: pol.keepOriginalNextHop,
      splitHorizon: pol.ebgp,
    });
    if (!e) return undefined;
    const v6 = c.prefix.family === 6;
    const attrs: PathAttributes = v6 ? { ...e.attrs, nextHop: undefined } : { ...e.attrs, nextHop: e.nextHop };
    if (!v6 && attrs.nextHop === '') return undefined; // no usable next hop for this family on this session
    return { gk: JSON.stringify([attrs, v6 ? e.nextHop : '']), attrs, prefix: c.prefix, ...(v6 ? { v6NextHop: e.nextHop } : {}) };
  }

  /**
   * Packs announcements (grouped by shared attributes) and withdrawals into UPDATE frames, each
   * attribute set's frames tagged with its ORIGINATOR_ID: a member never gets frames carrying its
   * own router id as ORIGINATOR_ID (it would drop them, RFC 4456 §8), which is split horizon for
   * reflected routes without a per-member encoding.
   */
  private pack(routes: OutRoute[], withdrawals: Prefix[], ctx: CodecContext, who: string): PackedBatch {
    const groups = new Map<string, RouteGroup>();
    for (const r of routes) {
      let g = groups.get(r.gk);
      if (!g) groups.set(r.gk, (g = { attributes: r.attrs, prefixes: [], ...(r.v6NextHop !== undefined ? { nextHops: [r.v6NextHop] } : {}) }));
      g.prefixes.push(r.prefix);
    }
    const out: PackedBatch = { all: [], parts: [] };
    try {
      if (withdrawals.length) out.parts.push({ frames: packUpdates([], withdrawals, ctx) });
      for (const g of groups.values()) out.parts.push({ originatorId: g.attributes.originatorId, frames: packUpdates([g], [], ctx) });
    } catch (err) {
      this.log.error({ err, peer: who }, 'cannot encode UPDATE');
      return { all: [], parts: [] };
    }
    for (const part of out.parts) out.all.push(...part.frames);
    return out;
  }

  /** The frames of a batch for one peer: all of them, or all but those it originated. */
  private framesFor(b: PackedBatch, p: Peer): Buffer[] {
    if (!p.routerId || !b.parts.some((x) => x.originatorId === p.routerId)) return b.all;
    return b.parts.filter((x) => x.originatorId !== p.routerId).flatMap((x) => x.frames);
  }

  /** One batch for a whole group: exported once, encoded once, the same Buffers to every member. */
  private flushGroup(g: OutGroup): void {
    const routes: OutRoute[] = [];
    const withdrawals: Prefix[] = [];
    const batch: string[] = [];
    let budget = FLUSH_CHUNK;
    for (const k of g.pending) {
      if (budget-- <= 0) break;
      g.pending.delete(k);
      const r = this.routeFor(g.policy, k);
      if (!r) {
        if (g.adjOut.delete(k)) {
          withdrawals.push(keyToPrefix(k));
          batch.push(k);
        }
        continue;
      }
      if (g.adjOut.get(k) === r.gk) continue;
      g.adjOut.set(k, r.gk);
      routes.push(r);
      batch.push(k);
    }
    if (g.pending.size) this.scheduleGroupFlush(g, true);
    if (!batch.length) return;
    const frames = this.pack(routes, withdrawals, g.ctx, g.key);
    this.outStats.groupBatches++;
    for (const m of [...g.members]) {
      if (m.session.state !== 'Established') continue;
      if (m.session.queuedBytes > (this.config.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) this.stall(m, batch);
      else {
        m.session.sendRaw(this.framesFor(frames, m));
        this.outStats.groupWrites++;
      }
    }
  }

  /**
   * Takes a peer whose socket is not keeping up out of its group. It missed this batch and will
   * miss whatever the group sends until it drains: those prefixes are re-sent from the Loc-RIB.
   */
  private stall(p: Peer, batch: readonly string[]): void {
    const g = p.group;
    this.leaveGroup(p);
    p.mode = 'stalled';
    this.unsynced.add(p);
    for (const k of batch) p.pending.set(k, true);
    if (g) for (const k of g.pending) p.pending.set(k, true);
    this.outStats.stalls++;
    this.log.warn({ peer: p.config.address, queued: p.session.queuedBytes }, 'peer is not reading: out of its update group until its socket drains');
    this.waitDrain(p);
  }

  private waitDrain(p: Peer): void {
    const s = p.session;
    s.onDrain(() => {
      if (p.session !== s || (p.mode !== 'stalled' && p.mode !== 'sync')) return;
      if (p.mode === 'stalled') this.outStats.resyncs++;
      p.mode = 'sync';
      this.scheduleFlush(p, true);
    });
  }

  /** A peer outside its group sends its own queue, then joins the group. */
  private flush(p: Peer): void {
    const ctx = p.session.codecContext;
    if (!ctx || p.session.state !== 'Established' || p.mode !== 'sync') return;
    if (p.session.queuedBytes > (this.config.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) {
      p.mode = 'stalled';
      this.waitDrain(p);
      return;
    }
    const pol = this.policyOf(p);
    const routes: OutRoute[] = [];
    const withdrawals: Prefix[] = [];
    // Large tables go out in chunks, one per event-loop turn, so timers keep running.
    let budget = FLUSH_CHUNK;
    for (const [k, mayHave] of p.pending) {
      if (budget-- <= 0) break;
      p.pending.delete(k);
      const r = this.routeFor(pol, k);
      if (r) routes.push(r);
      else if (mayHave) withdrawals.push(keyToPrefix(k));
    }
    if (routes.length || withdrawals.length) p.session.sendRaw(this.framesFor(this.pack(routes, withdrawals, ctx, p.config.address), p));
    if (p.pending.size) this.scheduleFlush(p, true);
    else this.joinGroup(p, ctx);
  }

  /**
   * The peer now holds the current export of every prefix. The group holds it too, except for
   * prefixes in the group's pending set, which the group is about to send to all members (a
   * repeat is harmless): so joining keeps every member in step with the group's adjOut.
   */
  private joinGroup(p: Peer, ctx: CodecContext): void {
    if (p.eorPending) {
      p.eorPending = false;
      for (const f of p.session.negotiated?.families ?? []) p.session.send(endOfRib(f.afi, f.safi));
    }
    const key = this.groupKeyOf(p, ctx);
    let g = this.groups.get(key);
    if (!g) {
      const policy = this.policyOf(p);
      const adjOut = new Map<string, string>();
      for (const k of this.locRib.keys()) {
        const r = this.routeFor(policy, k);
        if (r) adjOut.set(k, r.gk);
      }
      g = { key, members: new Set(), pending: new Set(), adjOut, flushScheduled: false, policy, ctx };
      this.groups.set(key, g);
    }
    g.members.add(p);
    p.group = g;
    p.mode = 'grouped';
    this.unsynced.delete(p);
  }

  private leaveGroup(p: Peer): void {
    const g = p.group;
    p.group = undefined;
    if (!g) return;
    g.members.delete(p);
    if (!g.members.size) this.groups.delete(g.key);
  }

  /** Session down or peer removed: nothing is owed to it any more. */
  private resetOut(p: Peer): void {
    this.leaveGroup(p);
    this.unsynced.delete(p);
    p.mode = 'idle';
    p.pending.clear();
    p.eorPending = false;
  }

  private sendInitial(p: Peer): void {
    if (!p.session.negotiated) return;
    this.resetOut(p);
    p.eorPending = true;
    p.mode = 'sync';
    this.unsynced.add(p);
    for (const k of this.locRib.keys()) p.pending.set(k, false);
    this.flush(p);
  }

  /** Route refresh: the whole table again, as replacements (the peer keeps what it has meanwhile). */
  private resend(p: Peer): void {
    if (!p.session.negotiated || p.mode === 'idle') return;
    const stalled = p.mode === 'stalled';
    this.leaveGroup(p);
    this.unsynced.add(p);
    for (const k of this.locRib.keys()) p.pending.set(k, true);
    if (stalled) return;
    p.mode = 'sync';
    this.flush(p);
  }

  /**
   * Restarting speaker: selection resumes once every configured peer is back and sent End-of-RIB
   * for its families (RFC 4724 §4.1); a peer that stays away is covered by the deferral timer. A
   * peer whose OPEN carried R is restarting too and waits for us: it must not be waited for in turn
   * (the R bit's deadlock avoidance), so it does not hold selection back.
   */
  private checkDeferral(): void {
    if (!this.deferred) return;
    const all = [...this.peers.values()];
    if (!all.length) return;
    const done = all.every((p) => {
      const s: NegotiatedSession | undefined = p.session.negotiated;
      return !!s && (!!s.peerGracefulRestart?.restarting || s.families.every((f) => p.eorFrom.has(famKey(f))));
    });
    if (done) this.endDeferral('End-of-RIB received from all peers');
  }

  private endDeferral(why: string): void {
    if (!this.deferred) return;
    this.deferred = false;
    if (this.deferralTimer) clearTimeout(this.deferralTimer);
    this.log.info({ why }, 'graceful restart: running route selection');
    // Our restart is over: later sessions advertise neither R nor F.
    for (const p of this.peers.values()) p.session.fsm.setGracefulRestart(this.grCapability());
    const keys = new Set<string>([...this.local.keys()]);
    for (const p of this.peers.values()) for (const k of p.adjIn.keys()) keys.add(k);
    for (const k of keys) this.recompute(k);
    for (const p of this.peers.values()) if (p.session.negotiated) this.sendInitial(p);
  }
}
