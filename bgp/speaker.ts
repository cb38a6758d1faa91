// The BGP speaker: one BgpSession per peer, Adj-RIB-In → Loc-RIB → Adj-RIB-Out, route sink
// events for felix, End-of-RIB, graceful restart (helper and restarting speaker), and setPeers()
// diffing. Sockets live in BgpSession; selection and export rules are pure (speaker/select.ts).
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endOfRib, isEndOfRib, packUpdates, type RouteGroup } from './codec/index.js';
import type { AfiSafi, CodecContext, UpdateMessage } from './codec/types.js';
import { BgpSession } from './fsm/session.js';
import type { FsmConfig, NegotiatedSession } from './fsm/types.js';
import { DEFAULT_MRAI_MS } from './rib/mrai.js';
import { attrKey } from './rib/attrs.js';
import { AttrInterner, WeakTable } from './speaker/intern.js';
import { best, exportRoute, type Candidate, type PathInfo } from './speaker/select.js';
import type { OriginatedRoute, PeerConfig, PeerStatus, RouteStatus, SpeakerConfig } from './speaker/types.js';
import { prefixToString, type PathAttributes, type Prefix, type RouteSink } from './types.js';

export type { PeerConfig, SpeakerConfig, PeerStatus, RouteStatus } from './speaker/types.js';

/**
 * A path as the Adj-RIB-In and the Loc-RIB hold it: one shared, immutable object for every prefix
 * with the same source, attributes, next hop and family (memory per route is then one map entry).
 */
interface Best extends PathInfo {
  readonly family: 4 | 6;
}

/** One exported attribute set (attrs + IPv6 next hop): a group's Adj-RIB-Out holds its id. */
interface OutAttr {
  readonly id: number;
  readonly attrs: PathAttributes;
  readonly v6NextHop?: string;
  /**
   * Set on the per-address stand-in of a path whose export depends on our session address (see
   * OutGroup.perAddress): the group's adjOut holds its id, meaning "each member holds this path
   * as exported with its own address" (or nothing, where that export is empty).
   */
  readonly perAddress?: Best;
}

/** What routeFor reads: the export inputs and a cache of exports per Loc-RIB path. */
interface Exporter {
  policy: OutPolicy;
  cache: WeakMap<Best, OutAttr | null>;
  /**
   * For iBGP policies: the cache shared by every exporter whose policy differs only in our
   * session address, for paths whose export does not use it (all but our own routes, which get
   * next-hop-self): each syncing peer's own exporter, and groups that differ in codec context.
   */
  shared?: WeakMap<Best, OutAttr | null>;
  /** iBGP groups: our own routes map to their per-address stand-in (OutAttr.perAddress). */
  perAddress?: boolean;
  lastBest?: Best;
  lastOut?: OutAttr | null;
}

interface Peer {
  config: PeerConfig;
  session: BgpSession;
  adjIn: Map<string, Best>;
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
 * member's socket. `adjOut` is what every member holds: prefix slot → OutAttr id (0: nothing),
 * 4 bytes per prefix per group, so thousands of groups stay cheap.
 *
 * iBGP members may reach us on different local addresses (a multi-homed reflector: one address
 * per fabric or subnet; the rr-race bench: one per client). Only our own routes' exports use that
 * address (next-hop-self); reflected and eBGP-learned routes keep their NEXT_HOP. So the address is
 * not part of an iBGP group's key: our own routes enter adjOut as per-address stand-ins, and a
 * batch that changes some is encoded in two parts: the shared frames, once for the group, and the
 * frames of our own routes, once per distinct member address (`bySelf`). Each prefix appears
 * once per batch, so the parts' order does not matter.
 */
interface OutGroup extends Exporter {
  key: string;
  members: Set<Peer>;
  /** Position in the speaker's change log up to which this group has exported (its pending set is the rest). */
  cursor: number;
  /** Its codec context as text (packMemo key). */
  ctxKey: string;
  adjOut: Int32Array;
  /** Prefixes advertised (non-zero adjOut slots). */
  count: number;
  flushScheduled: boolean;
  lastBatchAt?: number;
  ctx: CodecContext;
  /** Exporters of our own routes per member address (a cache: rebuilt when it outgrows the members). */
  bySelf: Map<string, Exporter>;
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

/** Announcements of one batch, by exported attribute set: the packing input. */
class Announcements {
  readonly byOut = new Map<OutAttr, RouteGroup>();
  private last?: OutAttr;
  private lastGroup?: RouteGroup;
  size = 0;

  add(out: OutAttr, prefix: Prefix): void {
    let g = out === this.last ? this.lastGroup : this.byOut.get(out);
    if (!g) this.byOut.set(out, (g = { attributes: out.attrs, prefixes: [], ...(out.v6NextHop !== undefined ? { nextHops: [out.v6NextHop] } : {}) }));
    this.last = out;
    this.lastGroup = g;
    g.prefixes.push(prefix);
    this.size++;
  }
}

/** Encoded frames of one batch, by part (withdrawals, then one part per attribute set). */
interface PackedBatch {
  all: Buffer;
  parts: Array<{ originatorId?: string; frames: Buffer }>;
}

const EMPTY = Buffer.alloc(0);

/** One attribute set's encoded UPDATE for one prefix and codec context (Speaker.frameCache). */
interface CachedFrames {
  ctxKey: string;
  prefix: string;
  frames: Buffer;
}

/** Entries per generation of the frame cache: one route per node of a cluster of this many nodes. */
const FRAME_CACHE_MAX = 8192;

/** Prefixes exported per group (or syncing peer) per event-loop turn. */
const FLUSH_CHUNK = 4000;

/** Originated prefixes applied synchronously per event-loop turn (see originate). */
const LOCAL_SYNC_BUDGET = 256;
/** Longest selection of queued originated prefixes runs before yielding (ms), like the receive side's SLICE_MS. */
const LOCAL_SLICE_MS = 10;

/**
 * Per-socket back-pressure: bytes a peer may have queued in user space before it is taken out
 * of its group. A stalled peer costs at most this plus one batch, and a set of changed prefix
 * keys (bounded by the table size); when its socket drains it re-syncs exactly those prefixes
 * from the Loc-RIB and rejoins its group. Its hold timer is its own business.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

const keyToPrefix = (k: string): Prefix => {
  const i = k.lastIndexOf('/');
  return { family: k.includes(':') ? 6 : 4, address: k.slice(0, i), length: Number(k.slice(i + 1)) };
};

const famKey = (f: AfiSafi): string => `${f.afi}/${f.safi}`;
// prefixToString's text, joined: a template result of 13 or more characters ("10.0.78.32/32")
// stays a pair of string pieces in V8 (about 64 bytes more per key kept, e.g. in the frame cache).
const keyOf = (p: Prefix): string => [p.address, p.length].join('/');
const normalize = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

export class Speaker {
  private readonly peers = new Map<string, Peer>();
  private readonly local = new Map<string, OriginatedRoute>();
  private readonly locRib = new Map<string, Best>();
  private readonly servers: Server[] = [];
  private deferred: boolean;
  private deferralTimer?: NodeJS.Timeout;
  private stopped = false;
  /** We have route-reflector clients: iBGP routes are reflected (RFC 4456). */
  private reflector = false;
  /** Routes with equal attributes share one object, also across UPDATEs (memory per route). */
  private readonly attrTable = new AttrInterner();
  /** Shared path objects (see Best) and exported attribute sets (see OutAttr). */
  private readonly bestTable = new WeakTable<Best>();
  private readonly outTable = new WeakTable<OutAttr>();
  private nextOutId = 1;
  private readonly sharedCaches = new Map<string, WeakMap<Best, OutAttr | null>>();
  /**
   * Prefix slots: the index of a prefix in every group's adjOut. A slot is held while the prefix
   * is in the Loc-RIB or advertised by some group (slotRefs counts the groups), then reused.
   */
  private readonly slotOf = new Map<string, number>();
  private slotKeys: string[] = [];
  private slotRefs: Int32Array = new Int32Array(1024);
  /** Per slot: peers holding the prefix in their Adj-RIB-In (1 = no other peer to look at). */
  private slotHolders: Int32Array = new Int32Array(1024);
  private readonly freeSlots: number[] = [];
  private readonly groups = new Map<string, OutGroup>();
  /**
   * Loc-RIB changes not yet exported by every group, one entry per change (absolute position =
   * logBase + index): one append per change instead of one set insertion per group.
   */
  private changeLog: string[] = [];
  /** The prefix of each change-log entry, parsed once for every group. */
  private changePrefixes: Prefix[] = [];
  private logBase = 0;
  /** The peers, for the per-prefix candidate scan (no Map iterator per recompute). */
  private peerList: Peer[] = [];
  /** Established peers outside any group (sync or stalled): changes go to their own queue. */
  private readonly unsynced = new Set<Peer>();
  /** Counters for tests and status: group batches encoded, writes of them, stalls, resyncs. */
  readonly outStats = { groupBatches: 0, groupWrites: 0, stalls: 0, resyncs: 0, packReuses: 0 };
  /**
   * Encoded batches by (codec context, change-log range): groups that differ in something the
   * change range does not touch (e.g. one per eBGP peer of an AS that none of these routes
   * came from) export the same changes the same way; the first encodes, the others reuse its
   * frames when their decisions match.
   * Log positions are never reused, so an entry stays valid; it is dropped once every group has
   * passed its range (scheduleTrim): held longer, the memo kept the encoded frames of the last 256
   * batches (up to a million routes' UPDATEs when every route has its own attributes).
   */
  private readonly packMemo = new Map<string, { decisions: number[]; frames: PackedBatch; end: number }>();
  /** Queued announce/withdraw calls, in order, each applied up to `at` (see originate), read from localOpHead. */
  private localOps: Array<{ prefixes: Prefix[]; attrs: PathAttributes | undefined; at: number }> = [];
  private localOpHead = 0;
  /** Originated prefixes already changed in `local` (settleLocal) whose selection is queued. */
  private localKeys: string[] = [];
  private localKeyHead = 0;
  private localDrain?: NodeJS.Immediate;
  /** Originated prefixes still applied at once in this event-loop turn. */
  private localBudget = LOCAL_SYNC_BUDGET;
  /**
   * Encoded UPDATEs of single-prefix attribute sets (see framesOf), in two generations of at most
   * FRAME_CACHE_MAX entries: a hit in the old one moves to the new one, and a full new one
   * replaces the old. Unbounded (a WeakMap living as long as the routes), it cost about 700 bytes
   * per route of a table whose routes mostly carry attributes of their own (distinct MED,
   * communities, AS paths); bounded, the Kubernetes shape (one route per node) still fits.
   */
  private frameCache = new Map<OutAttr, CachedFrames>();
  private frameCacheOld = new Map<OutAttr, CachedFrames>();
  /** The per-address stand-in of each of our own paths (see OutAttr.perAddress). */
  private readonly perAddressOut = new WeakMap<Best, OutAttr>();

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
    if (this.localDrain) clearImmediate(this.localDrain);
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
    const reflector = configs.some((c) => c.rrClient);
    // Exports depend on it: cached ones are void.
    if (reflector !== this.reflector) {
      this.sharedCaches.clear();
      for (const g of this.groups.values()) {
        g.cache = new WeakMap();
        g.shared = this.sharedCacheOf(g.policy);
        g.lastBest = undefined;
        g.bySelf.clear();
      }
    }
    this.reflector = reflector;
    // A removed peer may have been the last one whose End-of-RIB we were waiting for.
    this.checkDeferral();
  }

  /**
   * Originates prefixes with the given attributes (ORIGIN IGP and an empty AS_PATH by default).
   * The usual call (a node's few blocks) takes effect at once, as it always did. Past
   * LOCAL_SYNC_BUDGET prefixes in one event-loop turn (a 100k-prefix announce, or a caller
   * looping over many single-prefix calls), calls are queued in order and applied in slices (see
   * drainLocal), so a large call never holds the event loop; originated() and routes() include
   * every call made so far.
   */
  announce(prefixes: Prefix[], attrs: Partial<PathAttributes> = {}): void {
    // Interned: re-announcing an unchanged route yields the same path object (nothing to send).
    this.originate(prefixes, this.attrTable.intern({ origin: 0, asPath: [], ...attrs }));
  }

  /** Stops originating prefixes (applied like announce). */
  withdraw(prefixes: Prefix[]): void {
    this.originate(prefixes, undefined);
  }

  /** Originated prefixes whose announce/withdraw has not taken full effect yet (0: all selected). */
  get localSelectionPending(): number {
    let n = this.localKeys.length - this.localKeyHead;
    for (let i = this.localOpHead; i < this.localOps.length; i++) n += this.localOps[i].prefixes.length - this.localOps[i].at;
    return n;
  }

  /** announce (attrs) or withdraw (undefined): at once within the turn's budget and with nothing queued (order), else queued. */
  private originate(prefixes: Prefix[], attrs: PathAttributes | undefined): void {
    if (!prefixes.length) return;
    if (this.localOpHead === this.localOps.length && this.localKeyHead === this.localKeys.length && prefixes.length <= this.localBudget) {
      if (this.localBudget === LOCAL_SYNC_BUDGET) setImmediate(() => (this.localBudget = LOCAL_SYNC_BUDGET));
      this.localBudget -= prefixes.length;
      for (const p of prefixes) {
        const k = this.applyLocal(p, attrs);
        if (k !== undefined) this.recompute(k);
      }
      return;
    }
    // A copy: the caller may reuse its array.
    this.localOps.push({ prefixes: prefixes.slice(), attrs, at: 0 });
    this.localDrain ??= setImmediate(() => this.drainLocal());
  }

  /** One change to the originated table; the prefix key when it changed anything. */
  private applyLocal(prefix: Prefix, attrs: PathAttributes | undefined): string | undefined {
    const k = keyOf(prefix);
    if (attrs) {
      this.local.set(k, { prefix, attrs });
      return k;
    }
    return this.local.delete(k) ? k : undefined;
  }

  /** Applies every queued call to the originated table now (their selection stays queued). */
  private settleLocal(): void {
    for (; this.localOpHead < this.localOps.length; this.localOpHead++) {
      const op = this.localOps[this.localOpHead];
      for (; op.at < op.prefixes.length; op.at++) {
        const k = this.applyLocal(op.prefixes[op.at], op.attrs);
        if (k !== undefined) this.localKeys.push(k);
      }
    }
    this.localOps = [];
    this.localOpHead = 0;
  }

  /**
   * Applies queued originations for at most LOCAL_SLICE_MS, then yields to the event loop (hold
   * timers, keepalives, and the group flushes of what was selected so far run in between).
   * Selection reads the current state, so a prefix selected twice, or changed again before its
   * turn, ends up with what holds by then.
   */
  private drainLocal(): void {
    this.localDrain = undefined;
    const until = performance.now() + LOCAL_SLICE_MS;
    let n = 0;
    const more = (): boolean => (++n & 255) !== 0 || performance.now() < until;
    let going = true;
    while (going && this.localKeyHead < this.localKeys.length) {
      this.recompute(this.localKeys[this.localKeyHead++]);
      going = more();
    }
    while (going && this.localOpHead < this.localOps.length) {
      const op = this.localOps[this.localOpHead];
      while (going && op.at < op.prefixes.length) {
        const k = this.applyLocal(op.prefixes[op.at++], op.attrs);
        if (k !== undefined) this.recompute(k);
        going = more();
      }
      // (A sink callback calling originated() may have settled the queue meanwhile.)
      if (op.at === op.prefixes.length && this.localOps[this.localOpHead] === op) this.localOpHead++;
    }
    if (this.localKeyHead === this.localKeys.length) {
      this.localKeys = [];
      this.localKeyHead = 0;
    }
    if (this.localOpHead === this.localOps.length) {
      this.localOps = [];
      this.localOpHead = 0;
    } else if (this.localOpHead > 4096) {
      this.localOps = this.localOps.slice(this.localOpHead);
      this.localOpHead = 0;
    }
    if (this.localOpHead < this.localOps.length || this.localKeyHead < this.localKeys.length) this.localDrain = setImmediate(() => this.drainLocal());
  }

  originated(): OriginatedRoute[] {
    this.settleLocal();
    return [...this.local.values()];
  }

  peerStatus(): PeerStatus[] {
    return [...this.peers.values()].map((p) => {
      const s = p.session;
      const info = s.state === 'Established' ? 'Established' : [s.fsm.lastError, s.lastNotification].filter(Boolean).join('; ');
      let stale = false;
      for (const r of p.adjIn.values()) if (r.stale) {
        stale = true;
        break;
      }
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
        prefixesAdvertised: p.mode === 'grouped' && p.group ? p.group.count : 0,
        ...(stale ? { gracefulRestart: 'stale' as const } : {}),
      };
    });
  }

  routes(): RouteStatus[] {
    this.settleLocal();
    const out: RouteStatus[] = [];
    const fmt = (prefix: string, attrs: PathAttributes, nextHop: string, source: string, isBest: boolean, stale?: boolean): RouteStatus => ({
      prefix,
      nextHop,
      source,
      asPath: attrs.asPath.map((s) => (s.type === 1 ? `{${s.asns.join(' ')}}` : s.asns.join(' '))).join(' '),
      ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
      ...(attrs.communities?.length ? { communities: attrs.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
      best: isBest,
      ...(stale ? { stale } : {}),
    });
    for (const [k, r] of this.local) out.push(fmt(prefixToString(r.prefix), r.attrs, '', 'local', this.locRib.get(k)?.source === 'local'));
    for (const [addr, p] of this.peers)
      for (const [k, r] of p.adjIn) out.push(fmt(k, r.attrs, r.nextHop, addr, this.locRib.get(k)?.source === addr, r.stale));
    return out;
  }

  /** Output side of one peer (diagnostics, tests): mode, bytes queued on its socket, own queue, group size. */
  outQueue(address: string): { mode: Peer['mode']; queuedBytes: number; pending: number; groupMembers: number } | undefined {
    const p = this.peers.get(normalize(address));
    return p && { mode: p.mode, queuedBytes: p.session.queuedBytes, pending: p.pending.size, groupMembers: p.group?.members.size ?? 0 };
  }

  /** The Loc-RIB best paths (prefix → candidate). */
  bestPaths(): Candidate[] {
    return [...this.locRib].map(([k, b]) => this.candidateOf(k, b));
  }

  /** The Candidate view of a shared path for one prefix (without the internal family field). */
  private candidateOf(k: string, b: Best): Candidate {
    const { family: _f, ...c } = b;
    return { ...c, prefix: keyToPrefix(k) };
  }

  /** The shared path object for these fields (see Best). */
  private bestOf(b: Omit<Best, 'stale'> & { stale?: boolean }): Best {
    const attrs = this.attrTable.intern(b.attrs);
    // join, not a template literal: V8 keeps a template's result as a tree of string pieces
    // (about 16 objects, 500 bytes per distinct path); join makes one flat string.
    const key = [this.attrTable.id(attrs), b.nextHop, b.family, b.source, b.peerRouterId, b.ebgp ? 1 : 0, b.fromRrClient ? 1 : 0, b.stale ? 1 : 0].join('|');
    // A literal of fixed shape: a frozen spread of `b` got a hidden class of its own per object
    // (about 250 bytes per distinct path).
    return this.bestTable.get(key, () => Object.freeze<Best>({ attrs, nextHop: b.nextHop, family: b.family, source: b.source, ebgp: b.ebgp, peerRouterId: b.peerRouterId, fromRrClient: b.fromRrClient, stale: b.stale }));
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
    this.peerList = [...this.peers.values()];
    session.start();
  }

  private removePeer(p: Peer, subcode: number, reason: string): void {
    p.session.stop(subcode, reason);
    if (p.staleTimer) clearTimeout(p.staleTimer);
    this.resetOut(p);
    this.peers.delete(normalize(p.config.address));
    this.peerList = [...this.peers.values()];
    for (const k of this.adjClear(p)) this.recompute(k);
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
        // RFC 4724 §4.2: a family the peer no longer lists, or lists without F, lost its
        // forwarding state in the restart: its stale routes go now, not at End-of-RIB.
        for (const family of [4, 6] as const) {
          const afi = family === 4 ? 1 : 2;
          if (!s.peerGracefulRestart.families.some((f) => f.afi === afi && f.safi === 1 && f.forwardingState)) this.purgeStale(p, 'peer restarted without forwarding state for the family', family);
        }
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
      for (const [k, r] of p.adjIn) p.adjIn.set(k, this.bestOf({ ...r, stale: true }));
      this.log.info({ peer: p.config.address, restartTime: gr.restartTime, routes: p.adjIn.size }, 'peer restarting: keeping its routes as stale');
      if (p.staleTimer) clearTimeout(p.staleTimer);
      p.staleTimer = setTimeout(() => this.purgeStale(p, 'restart time expired'), gr.restartTime * 1000);
      p.staleTimer.unref();
      return;
    }
    this.log.info({ peer: p.config.address, reason }, 'dropping routes of peer');
    for (const k of this.adjClear(p)) this.recompute(k, p);
  }

  /** Drops the peer's stale routes: all of them, or one family's (the timer stays while others remain). */
  private purgeStale(p: Peer, why: string, family?: 4 | 6): void {
    const keys: string[] = [];
    let othersStale = false;
    for (const [k, r] of p.adjIn) {
      if (!r.stale) continue;
      if (family === undefined || r.family === family) keys.push(k);
      else othersStale = true;
    }
    if (!othersStale && p.staleTimer) {
      clearTimeout(p.staleTimer);
      p.staleTimer = undefined;
    }
    if (keys.length) this.log.info({ peer: p.config.address, routes: keys.length, why, ...(family ? { family } : {}) }, 'purging stale routes');
    for (const k of keys) this.adjDelete(p, k);
    for (const k of keys) this.recompute(k, p);
  }

  private onUpdate(p: Peer, u: UpdateMessage): void {
    const eor = isEndOfRib(u);
    if (eor) {
      p.eorFrom.add(famKey(eor));
      this.log.debug({ peer: p.config.address, family: famKey(eor) }, 'End-of-RIB received');
      this.purgeStale(p, 'End-of-RIB', eor.afi === 1 ? 4 : 6);
      this.checkDeferral();
      return;
    }
    const changed: string[] = [];
    for (const w of [...u.withdrawn, ...(u.mpUnreach?.withdrawn ?? [])]) {
      const k = keyOf(w);
      if (this.adjDelete(p, k)) changed.push(k);
    }
    const attrs = u.attributes && this.attrTable.intern(u.attributes);
    const ok = !!attrs && this.acceptable(p, attrs);
    // One shared path object per (next hop, family) of this UPDATE.
    let last: Best | undefined;
    const pathFor = (a: PathAttributes, nextHop: string, family: 4 | 6): Best => {
      if (last?.nextHop !== nextHop || last.family !== family)
        last = this.bestOf({ attrs: a, nextHop, family, source: normalize(p.config.address), ebgp: p.ebgp, peerRouterId: p.routerId, fromRrClient: !!p.config.rrClient });
      return last;
    };
    const add = (prefix: Prefix, nextHop: string | undefined): void => {
      const k = keyOf(prefix);
      if (!attrs || !nextHop || !ok) {
        p.rejected++;
        if (this.adjDelete(p, k)) changed.push(k);
        return;
      }
      this.adjSet(p, k, pathFor(attrs, nextHop, prefix.family === 6 ? 6 : 4));
      changed.push(k);
    };
    for (const n of u.nlri) add(n, u.attributes?.nextHop);
    if (u.mpReach) {
      const nh = u.mpReach.nextHops.find((a) => !a.toLowerCase().startsWith('fe80')) ?? u.mpReach.nextHops[0];
      for (const n of u.mpReach.nlri) add(n, nh);
    }
    for (const k of changed) this.recompute(k, p);
  }

  /** Import checks: AS_PATH loop (eBGP), ORIGINATOR_ID / CLUSTER_LIST loops (RFC 4456). */
  private acceptable(p: Peer, a: PathAttributes): boolean {
    if (p.ebgp && a.asPath.some((s) => s.asns.includes(this.config.asNumber))) return false;
    if (a.originatorId === this.config.routerId) return false;
    if (a.clusterList?.includes(this.config.clusterId ?? this.config.routerId)) return false;
    return true;
  }

  /** k's paths; `from`: the peer whose change this is (when it is the only holder, no scan). */
  private candidates(k: string, from?: Peer): Best[] {
    const out: Best[] = [];
    const l = this.local.get(k);
    if (l) out.push(this.bestOf({ attrs: l.attrs, nextHop: '', family: l.prefix.family === 6 ? 6 : 4, source: 'local', ebgp: false, peerRouterId: this.config.routerId }));
    const slot = this.slotOf.get(k);
    const holders = slot === undefined ? 0 : this.slotHolders[slot];
    const own = from?.adjIn.get(k);
    if (holders === (own ? 1 : 0)) {
      if (own && from) out.push(own.peerRouterId === from.routerId ? own : this.bestOf({ ...own, peerRouterId: from.routerId }));
      return out;
    }
    for (const p of this.peerList) {
      let r = p.adjIn.get(k);
      if (!r) continue;
      // Selection uses the peer's current router id (it may have changed since the route came).
      if (r.peerRouterId !== p.routerId) r = this.bestOf({ ...r, peerRouterId: p.routerId });
      out.push(r);
    }
    return out;
  }

  private recompute(k: string, from?: Peer): void {
    if (this.deferred) return; // restarting: selection waits for peers' End-of-RIB
    const prev = this.locRib.get(k);
    const next = best(this.candidates(k, from));
    if (next) this.locRib.set(k, next);
    else if (prev) {
      this.locRib.delete(k);
      const slot = this.slotOf.get(k);
      if (slot !== undefined) this.maybeFree(k, slot);
    }
    if (next === prev) return; // same shared path: nothing changed for the sink or any export
    let prefix = this.emitSink(k, prev, next);
    if (this.groups.size) {
      this.changeLog.push(k);
      this.changePrefixes.push((prefix ??= keyToPrefix(k)));
      for (const g of this.groups.values()) this.scheduleGroupFlush(g);
    }
    for (const p of this.unsynced) {
      // Already sent in this sync (or held from before a stall): the peer may have an old copy.
      if (!p.pending.has(k)) p.pending.set(k, true);
      if (p.mode === 'sync') this.scheduleFlush(p);
    }
  }

  /** Sink events for a best-path change; returns the parsed prefix when it made one. */
  private emitSink(k: string, prev: Best | undefined, next: Best | undefined): Prefix | undefined {
    const learned = (c: Best | undefined): c is Best => !!c && c.source !== 'local';
    if (learned(next)) {
      if (!learned(prev) || prev.nextHop !== next.nextHop || prev.source !== next.source || prev.attrs !== next.attrs) {
        const prefix = keyToPrefix(k);
        this.sink.onRoute({ type: 'install', prefix, nextHops: [next.nextHop], sourcePeer: next.source, attrs: next.attrs });
        return prefix;
      }
    } else if (learned(prev)) {
      const prefix = keyToPrefix(k);
      this.sink.onRoute({ type: 'withdraw', prefix, sourcePeer: prev.source });
      return prefix;
    }
    return undefined;
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
   * iBGP peers of one role share one, whatever our address on each session (see OutGroup).
   */
  private groupKeyOf(p: Peer, ctx: CodecContext): string {
    const pol = this.policyOf(p);
    return JSON.stringify([pol.ebgp ? pol.address : '', pol.ebgp, pol.rrClient, pol.ebgp ? (pol.selfAddress ?? '') : '', !!pol.keepOriginalNextHop, pol.afis, ctx]);
  }

  /**
   * What the exporter's peers get for prefix k, or undefined (nothing / withdraw). Exports depend
   * only on the shared path object and the policy, so each is computed once per path and cached.
   */
  private routeFor(ex: Exporter, k: string): OutAttr | undefined {
    const b = this.locRib.get(k);
    if (!b) return undefined;
    // Consecutive prefixes mostly share a path: a one-entry cache in front of the WeakMap.
    if (b === ex.lastBest) return ex.lastOut ?? undefined;
    const cache = ex.shared && b.source !== 'local' ? ex.shared : ex.cache;
    let out = cache.get(b);
    if (out === undefined) {
      out = (ex.perAddress && b.source === 'local' ? this.perAddressOf(ex.policy, b) : this.exportOf(ex.policy, this.candidateOf(k, b))) ?? null;
      cache.set(b, out);
    }
    ex.lastBest = b;
    ex.lastOut = out;
    return out ?? undefined;
  }

  /** The per-address stand-in of our own path b (see OutAttr.perAddress); none for a family the group does not carry. */
  private perAddressOf(pol: OutPolicy, b: Best): OutAttr | undefined {
    if (!pol.afis.includes(b.family === 4 ? 1 : 2)) return undefined;
    let out = this.perAddressOut.get(b);
    if (!out) this.perAddressOut.set(b, (out = { id: this.nextOutId++, attrs: b.attrs, perAddress: b }));
    return out;
  }

  /** See Exporter.shared: undefined for eBGP policies (their exports use our address). */
  private sharedCacheOf(pol: OutPolicy): WeakMap<Best, OutAttr | null> | undefined {
    if (pol.ebgp) return undefined;
    const key = JSON.stringify([pol.rrClient, !!pol.keepOriginalNextHop, pol.afis]);
    let c = this.sharedCaches.get(key);
    if (!c) this.sharedCaches.set(key, (c = new WeakMap()));
    return c;
  }

  private exportOf(pol: OutPolicy, c: Candidate): OutAttr | undefined {
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
    // Equal exports share one object (and id) across paths and groups: a best-path change that
    // exports the same attributes sends nothing.
    // attrKey, not JSON.stringify: a Buffer (unknown attribute) stringifies as an array of numbers.
    return this.outTable.get(attrKey(attrs, v6 ? e.nextHop : ''), () => ({ id: this.nextOutId++, attrs, ...(v6 ? { v6NextHop: e.nextHop } : {}) }));
  }

  /** The slot of prefix k, allocated when it has none. */
  private slotFor(k: string): number {
    let slot = this.slotOf.get(k);
    if (slot !== undefined) return slot;
    slot = this.freeSlots.pop() ?? this.slotKeys.length;
    this.slotOf.set(k, slot);
    this.slotKeys[slot] = k;
    if (slot >= this.slotRefs.length) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.slotRefs = grow(this.slotRefs);
      this.slotHolders = grow(this.slotHolders);
    }
    this.slotRefs[slot] = 0;
    this.slotHolders[slot] = 0;
    return slot;
  }

  /** Frees k's slot once nothing holds it: no group advertises it, no peer sent it, no best path. */
  private maybeFree(k: string, slot: number): void {
    if (!this.slotRefs[slot] && !this.slotHolders[slot] && !this.locRib.has(k)) this.freeSlot(k, slot);
  }

  /** Adj-RIB-In writes go through adjSet / adjDelete / adjClear: they keep slotHolders. */
  private adjSet(p: Peer, k: string, b: Best): void {
    const n = p.adjIn.size;
    p.adjIn.set(k, b);
    if (p.adjIn.size !== n) this.slotHolders[this.slotFor(k)]++;
  }

  private adjDelete(p: Peer, k: string): boolean {
    if (!p.adjIn.delete(k)) return false;
    this.unhold(k);
    return true;
  }

  /** Empties a peer's Adj-RIB-In; returns the keys it held. */
  private adjClear(p: Peer): string[] {
    const keys = [...p.adjIn.keys()];
    p.adjIn.clear();
    for (const k of keys) this.unhold(k);
    return keys;
  }

  private unhold(k: string): void {
    const slot = this.slotOf.get(k);
    if (slot === undefined) return;
    this.slotHolders[slot]--;
    this.maybeFree(k, slot);
  }

  private freeSlot(k: string, slot: number): void {
    this.slotOf.delete(k);
    this.slotKeys[slot] = '';
    this.freeSlots.push(slot);
  }

  /** Sets a group's adjOut entry for prefix k (id 0: withdrawn), keeping counts and slot refs. */
  private setAdjOut(g: OutGroup, k: string, slot: number, id: number): void {
    if (slot >= g.adjOut.length) {
      const grown = new Int32Array(Math.max(slot + 1, this.slotKeys.length, g.adjOut.length * 2));
      grown.set(g.adjOut);
      g.adjOut = grown;
    }
    const had = g.adjOut[slot];
    g.adjOut[slot] = id;
    if (!had && id) {
      g.count++;
      this.slotRefs[slot]++;
    } else if (had && !id) {
      g.count--;
      this.slotRefs[slot]--;
      this.maybeFree(k, slot);
    }
  }

  private adjOutOf(g: OutGroup, slot: number | undefined): number {
    return slot !== undefined && slot < g.adjOut.length ? g.adjOut[slot] : 0;
  }

  /**
   * Packs announcements (grouped by shared attributes) and withdrawals into UPDATE frames, each
   * attribute set's frames tagged with its ORIGINATOR_ID: a member never gets frames carrying its
   * own router id as ORIGINATOR_ID (it would drop them, RFC 4456 §8), which is split horizon for
   * reflected routes without a per-member encoding. Each part is one Buffer (and `all` their
   * concatenation): one socket write per member per batch, not one per UPDATE.
   */
  private pack(routes: Announcements, withdrawals: Prefix[], ctx: CodecContext, ctxKey: string, who: string): PackedBatch {
    const parts: PackedBatch['parts'] = [];
    try {
      if (withdrawals.length) parts.push({ frames: Buffer.concat(packUpdates([], withdrawals, ctx)) });
      for (const [out, g] of routes.byOut) parts.push({ originatorId: g.attributes.originatorId, frames: this.framesOf(out, g, ctx, ctxKey) });
    } catch (err) {
      this.log.error({ err, peer: who }, 'cannot encode UPDATE');
      return { all: EMPTY, parts: [] };
    }
    return { all: parts.length === 1 ? parts[0].frames : Buffer.concat(parts.map((x) => x.frames)), parts };
  }

  /**
   * The UPDATEs of one attribute set. A set carried by a single prefix (the Kubernetes shape: one
   * block per node, each with its own next hop) is encoded once per codec context and reused: by
   * every later initial sync, and by every group batch that sends it again.
   */
  private framesOf(out: OutAttr, g: RouteGroup, ctx: CodecContext, ctxKey: string): Buffer {
    if (g.prefixes.length !== 1) return Buffer.concat(packUpdates([g], [], ctx));
    const pk = keyOf(g.prefixes[0]);
    const hit = this.cachedFrames(out);
    if (hit && hit.ctxKey === ctxKey && hit.prefix === pk) return hit.frames;
    const frames = Buffer.concat(packUpdates([g], [], ctx));
    this.cacheFrames(out, { ctxKey, prefix: pk, frames });
    return frames;
  }

  private cachedFrames(out: OutAttr): CachedFrames | undefined {
    const hit = this.frameCache.get(out);
    if (hit) return hit;
    const old = this.frameCacheOld.get(out);
    if (old) this.cacheFrames(out, old);
    return old;
  }

  private cacheFrames(out: OutAttr, e: CachedFrames): void {
    if (this.frameCache.size >= FRAME_CACHE_MAX) {
      this.frameCacheOld = this.frameCache;
      this.frameCache = new Map();
    }
    this.frameCache.set(out, e);
  }

  /** The bytes of a batch for one peer: all of them, or all but those it originated. */
  private framesFor(b: PackedBatch, p: Peer): Buffer[] {
    if (!p.routerId || !b.parts.some((x) => x.originatorId === p.routerId)) return b.all.length ? [b.all] : [];
    return b.parts.filter((x) => x.originatorId !== p.routerId).map((x) => x.frames);
  }

  /** One write for a peer's frames (the session writes each Buffer on its own). */
  private write(p: Peer, frames: Buffer[]): void {
    p.session.sendRaw(frames.length > 1 ? [Buffer.concat(frames)] : frames);
  }

  /** One batch for a whole group: exported once, encoded once, the same Buffers to every member. */
  private flushGroup(g: OutGroup): void {
    const routes = new Announcements();
    const withdrawals: Prefix[] = [];
    /** Our own routes in this batch (per-address exports): slot key and prefix. */
    const own: Array<[string, Prefix]> = [];
    const batch: string[] = [];
    const log = this.changeLog;
    const prefixes = this.changePrefixes;
    const start = g.cursor;
    const end = Math.min(this.logBase + log.length, g.cursor + FLUSH_CHUNK);
    // What this batch does, as (log position, OutAttr id or -1 = withdraw) pairs: groups whose
    // batches agree on it (and on the codec context) send the same bytes (see packMemo).
    const decisions: number[] = [];
    for (; g.cursor < end; g.cursor++) {
      const i = g.cursor - this.logBase;
      const k = log[i];
      const r = this.routeFor(g, k);
      const slot = this.slotOf.get(k);
      const had = this.adjOutOf(g, slot);
      if (!r) {
        if (had && slot !== undefined) {
          this.setAdjOut(g, k, slot, 0);
          withdrawals.push(prefixes[i]);
          batch.push(k);
          decisions.push(g.cursor, -1);
        }
        continue;
      }
      if (had === r.id) continue;
      this.setAdjOut(g, k, slot ?? this.slotFor(k), r.id);
      if (r.perAddress) own.push([k, prefixes[i]]);
      else routes.add(r, prefixes[i]);
      batch.push(k);
      decisions.push(g.cursor, r.id);
    }
    if (g.cursor < this.logBase + log.length) this.scheduleGroupFlush(g, true);
    else this.scheduleTrim();
    if (!batch.length) return;
    const memoKey = `${g.ctxKey}|${start}|${end}`;
    const memo = this.packMemo.get(memoKey);
    let frames: PackedBatch;
    if (memo && memo.decisions.length === decisions.length && memo.decisions.every((d, j) => d === decisions[j])) {
      frames = memo.frames;
      this.outStats.packReuses++;
    } else {
      frames = this.pack(routes, withdrawals, g.ctx, g.ctxKey, g.key);
      if (this.packMemo.size >= 256) this.packMemo.clear();
      this.packMemo.set(memoKey, { decisions, frames, end });
    }
    this.outStats.groupBatches++;
    /** This batch's own-route frames per member address. */
    const ownFrames = new Map<string, Buffer>();
    for (const m of [...g.members]) {
      if (m.session.state !== 'Established') continue;
      if (m.session.queuedBytes > (this.config.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) this.stall(m, batch);
      else {
        const out = this.framesFor(frames, m);
        if (own.length) out.push(this.ownFramesFor(g, m, own, ownFrames));
        this.write(m, out);
        this.outStats.groupWrites++;
      }
    }
  }

  /** The frames of a batch's own routes for member m: exported with m's address (see OutGroup). */
  private ownFramesFor(g: OutGroup, m: Peer, own: ReadonlyArray<[string, Prefix]>, done: Map<string, Buffer>): Buffer {
    const self = m.session.localAddress ?? '';
    const hit = done.get(self);
    if (hit) return hit;
    let ex = g.bySelf.get(self);
    if (!ex) {
      if (g.bySelf.size > 2 * g.members.size + 8) g.bySelf.clear();
      ex = { policy: { ...g.policy, selfAddress: self || undefined }, cache: new WeakMap() };
      g.bySelf.set(self, ex);
    }
    const routes = new Announcements();
    // Where the export is empty (no next hop of this family on this address) the member may
    // hold the previous export from the shared part: withdraw (harmless if it had nothing).
    const withdrawals: Prefix[] = [];
    for (const [k, prefix] of own) {
      const r = this.routeFor(ex, k);
      if (r) routes.add(r, prefix);
      else withdrawals.push(prefix);
    }
    const frames = this.pack(routes, withdrawals, g.ctx, g.ctxKey, m.config.address).all;
    done.set(self, frames);
    return frames;
  }

  private trimScheduled = false;

  /** Once per turn: drops the change-log entries every group has exported. */
  private scheduleTrim(): void {
    if (this.trimScheduled) return;
    this.trimScheduled = true;
    setImmediate(() => {
      this.trimScheduled = false;
      let min = this.logBase + this.changeLog.length;
      for (const g of this.groups.values()) min = Math.min(min, g.cursor);
      for (const [k, m] of this.packMemo) if (m.end <= min) this.packMemo.delete(k);
      const n = min - this.logBase;
      if (n === this.changeLog.length) {
        this.changeLog = [];
        this.changePrefixes = [];
      } else if (n > 4096 && n * 2 > this.changeLog.length) {
        this.changeLog = this.changeLog.slice(n);
        this.changePrefixes = this.changePrefixes.slice(n);
      } else return;
      this.logBase = min;
    });
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
    if (g) for (let i = g.cursor - this.logBase; i < this.changeLog.length; i++) p.pending.set(this.changeLog[i], true);
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
    const policy = this.policyOf(p);
    // The shared cache too: peers joining one after another export each reflected path once.
    const ex: Exporter = { policy, cache: new WeakMap(), shared: this.sharedCacheOf(policy) };
    const ctxKey = JSON.stringify(ctx);
    const routes = new Announcements();
    const withdrawals: Prefix[] = [];
    /** UPDATEs already encoded (framesOf's cache): a peer joining a reflector of single-route nodes gets mostly these. */
    const encoded: Buffer[] = [];
    // Large tables go out in chunks, one per event-loop turn, so timers keep running.
    let budget = FLUSH_CHUNK;
    for (const [k, mayHave] of p.pending) {
      if (budget-- <= 0) break;
      p.pending.delete(k);
      const r = this.routeFor(ex, k);
      if (!r) {
        if (mayHave) withdrawals.push(keyToPrefix(k));
        continue;
      }
      const hit = this.cachedFrames(r);
      if (!hit || hit.ctxKey !== ctxKey || hit.prefix !== k) routes.add(r, keyToPrefix(k));
      // Its own routes are withheld, as framesFor does for the rest.
      else if (!p.routerId || r.attrs.originatorId !== p.routerId) encoded.push(hit.frames);
    }
    if (routes.size || withdrawals.length) encoded.push(...this.framesFor(this.pack(routes, withdrawals, ctx, ctxKey, p.config.address), p));
    if (encoded.length) this.write(p, encoded);
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
      const own = this.policyOf(p);
      // iBGP: no address in the group's policy; our own routes go per member address (see OutGroup).
      const policy = own.ebgp ? own : { ...own, selfAddress: undefined };
      g = { key, members: new Set(), cursor: this.logBase + this.changeLog.length, ctxKey: JSON.stringify(ctx), adjOut: new Int32Array(this.slotKeys.length), count: 0, flushScheduled: false, policy, cache: new WeakMap(), shared: this.sharedCacheOf(policy), perAddress: !policy.ebgp, ctx, bySelf: new Map() };
      for (const k of this.locRib.keys()) {
        const r = this.routeFor(g, k);
        if (r) this.setAdjOut(g, k, this.slotFor(k), r.id);
      }
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
    if (g.members.size) return;
    this.groups.delete(g.key);
    this.scheduleTrim();
    // Its adjOut no longer holds any slot.
    for (let slot = 0; slot < g.adjOut.length; slot++) if (g.adjOut[slot]) this.setAdjOut(g, this.slotKeys[slot], slot, 0);
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
    this.settleLocal();
    const keys = new Set<string>([...this.local.keys()]);
    for (const p of this.peers.values()) for (const k of p.adjIn.keys()) keys.add(k);
    for (const k of keys) this.recompute(k);
    for (const p of this.peers.values()) if (p.session.negotiated) this.sendInitial(p);
  }
}
