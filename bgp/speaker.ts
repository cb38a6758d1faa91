// The BGP speaker: one BgpSession per peer, Adj-RIB-In → Loc-RIB → Adj-RIB-Out, route sink
// events for felix, End-of-RIB, graceful restart (helper and restarting speaker), and setPeers()
// diffing. Sockets live in BgpSession; selection and export rules are pure (speaker/select.ts).
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endOfRib, isEndOfRib, packUpdates, type RouteGroup } from './codec/index.js';
import type { AfiSafi, UpdateMessage } from './codec/types.js';
import { BgpSession } from './fsm/session.js';
import type { NegotiatedSession } from './fsm/types.js';
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
  /** What the peer currently has from us: prefix key → encoded attrs+next hop key. */
  adjOut: Map<string, string>;
  pending: Set<string>;
  flushScheduled: boolean;
  /** When the last batch of changes started going out (MRAI), ms. */
  lastBatchAt?: number;
  eorFrom: Set<string>;
  /** Peer restarting (helper): stale timer. */
  staleTimer?: NodeJS.Timeout;
  rejected: number;
  ebgp: boolean;
  routerId: string;
  initialSent: boolean;
  /** End-of-RIB is due once pending is empty (initial table sent). */
  eorPending: boolean;
  /** The GR capability the peer advertised on its last session (needed once that session is gone). */
  peerGr?: { restartTime: number };
}

/** Prefixes exported per peer per event-loop turn. */
const FLUSH_CHUNK = 4000;

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
        prefixesAdvertised: p.adjOut.size,
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

  /** The Loc-RIB best paths (prefix → candidate). */
  bestPaths(): Candidate[] {
    return [...this.locRib.values()];
  }

  private addPeer(addr: string, c: PeerConfig): void {
    const families = (this.config.families ?? [4, 6]).map((f) => ({ afi: f === 4 ? 1 : 2, safi: 1 }));
    const gr = this.config.gracefulRestart;
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
        gracefulRestart: gr ? { restartTime: gr.restartTime ?? 120, restarting: !!gr.restarting, forwardingState: !!gr.restarting } : undefined,
      },
    });
    const peer: Peer = {
      config: c,
      session,
      adjIn: new Map(),
      adjOut: new Map(),
      pending: new Set(),
      flushScheduled: false,
      eorFrom: new Set(),
      rejected: 0,
      ebgp: c.asNumber !== this.config.asNumber,
      routerId: '',
      initialSent: false,
      eorPending: false,
    };
    session.listeners = {
      established: (s) => this.onEstablished(peer, s),
      down: (reason, n) => this.onDown(peer, reason, !!(n.sent || n.received)),
      update: (u) => this.onUpdate(peer, u),
      routeRefresh: () => this.resend(peer),
    };
    this.peers.set(addr, peer);
    session.start();
  }

  private removePeer(p: Peer, subcode: number, reason: string): void {
    p.session.stop(subcode, reason);
    if (p.staleTimer) clearTimeout(p.staleTimer);
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
    p.adjOut.clear();
    p.initialSent = false;
    if (p.staleTimer) {
      // The restarting peer is back: keep its stale routes until its End-of-RIB (or this timer).
      clearTimeout(p.staleTimer);
      if (s.peerGracefulRestart) {
        p.staleTimer = setTimeout(() => this.purgeStale(p, 'stale timer expired after restart'), Math.max(s.peerGracefulRestart.restartTime, 1) * 1000 * 3);
        p.staleTimer.unref();
      } else this.purgeStale(p, 'peer came back without graceful restart');
    }
    if (!this.deferred) this.sendInitial(p);
  }

  private onDown(p: Peer, reason: string, notified: boolean): void {
    p.adjOut.clear();
    p.pending.clear();
    p.initialSent = false;
    const gr = p.session.fsm.config.gracefulRestart ? p.peerGr : undefined;
    // RFC 4724 helper: routes of a peer that advertised GR survive a TCP failure (not a NOTIFICATION).
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
    for (const p of this.peers.values()) {
      if (!p.initialSent) continue;
      p.pending.add(k);
      this.scheduleFlush(p);
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

  private exportFor(p: Peer, k: string): { attrs: PathAttributes; nextHop: string } | undefined {
    const c = this.locRib.get(k);
    if (!c) return undefined;
    if (p.session.negotiated && !p.session.negotiated.families.some((f) => f.afi === (c.prefix.family === 4 ? 1 : 2))) return undefined;
    return exportRoute(c, {
      address: normalize(p.config.address),
      ebgp: p.ebgp,
      rrClient: !!p.config.rrClient,
      localAs: this.config.asNumber,
      routerId: this.config.routerId,
      clusterId: this.config.clusterId ?? this.config.routerId,
      reflector: this.reflector,
      selfAddress: p.session.localAddress,
      keepOriginalNextHop: p.config.keepOriginalNextHop,
    });
  }

  private flush(p: Peer): void {
    const ctx = p.session.codecContext;
    if (!ctx || p.session.state !== 'Established') return;
    const groups = new Map<string, RouteGroup>();
    const withdrawals: Prefix[] = [];
    // Large tables go out in chunks, one per event-loop turn, so timers keep running.
    let budget = FLUSH_CHUNK;
    for (const k of p.pending) {
      if (budget-- <= 0) break;
      p.pending.delete(k);
      const e = this.exportFor(p, k);
      const c = this.locRib.get(k);
      if (!e || !c) {
        if (p.adjOut.delete(k)) {
          const [address, len] = k.split('/');
          withdrawals.push({ family: isIP(address) === 6 ? 6 : 4, address, length: Number(len) });
        }
        continue;
      }
      const v6 = c.prefix.family === 6;
      const attrs: PathAttributes = v6 ? { ...e.attrs, nextHop: undefined } : { ...e.attrs, nextHop: e.nextHop };
      if (!v6 && attrs.nextHop === '') continue; // no usable next hop for this family on this session
      const gk = JSON.stringify([attrs, v6 ? e.nextHop : '']);
      if (p.adjOut.get(k) === gk) continue;
      p.adjOut.set(k, gk);
      let g = groups.get(gk);
      if (!g) {
        g = { attributes: attrs, prefixes: [], ...(v6 ? { nextHops: [e.nextHop] } : {}) };
        groups.set(gk, g);
      }
      g.prefixes.push(c.prefix);
    }
    if (p.pending.size) this.scheduleFlush(p, true);
    if (groups.size || withdrawals.length) {
      try {
        p.session.sendRaw(packUpdates([...groups.values()], withdrawals, ctx));
      } catch (err) {
        this.log.error({ err, peer: p.config.address }, 'cannot encode UPDATE');
      }
    }
    if (!p.pending.size) this.afterFlush(p);
  }

  /** End-of-RIB goes out once the initial table has been fully flushed. */
  private afterFlush(p: Peer): void {
    if (!p.eorPending) return;
    p.eorPending = false;
    for (const f of p.session.negotiated?.families ?? []) p.session.send(endOfRib(f.afi, f.safi));
  }

  private sendInitial(p: Peer): void {
    const s = p.session.negotiated;
    if (!s) return;
    p.initialSent = true;
    p.eorPending = true;
    for (const k of this.locRib.keys()) p.pending.add(k);
    this.flush(p);
  }

  private resend(p: Peer): void {
    p.adjOut.clear();
    for (const k of this.locRib.keys()) p.pending.add(k);
    this.flush(p);
  }

  /**
   * Restarting speaker: selection resumes once every configured peer is back and sent End-of-RIB
   * for its families (RFC 4724 §4.1); a peer that stays away is covered by the deferral timer.
   */
  private checkDeferral(): void {
    if (!this.deferred) return;
    const all = [...this.peers.values()];
    if (!all.length) return;
    const done = all.every((p) => {
      const s: NegotiatedSession | undefined = p.session.negotiated;
      return !!s && s.families.every((f) => p.eorFrom.has(famKey(f)));
    });
    if (done) this.endDeferral('End-of-RIB received from all peers');
  }

  private endDeferral(why: string): void {
    if (!this.deferred) return;
    this.deferred = false;
    if (this.deferralTimer) clearTimeout(this.deferralTimer);
    this.log.info({ why }, 'graceful restart: running route selection');
    const keys = new Set<string>([...this.local.keys()]);
    for (const p of this.peers.values()) for (const k of p.adjIn.keys()) keys.add(k);
    for (const k of keys) this.recompute(k);
    for (const p of this.peers.values()) if (p.session.negotiated) this.sendInitial(p);
  }
}
