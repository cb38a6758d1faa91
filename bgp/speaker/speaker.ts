// The BGP speaker: the shell around the pure RIB (bgp/rib). It holds the configured peers, one
// BgpSession each, and wires them to the RIB; the listeners (listener.ts), the send side with
// MRAI batching and back-pressure (output.ts), graceful-restart timers (graceful.ts) and the
// management views (views.ts, status.ts) are its parts. The RIB decides what is selected and what
// each update group or peer must send.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isEndOfRib } from '../codec/index.js';
import type { UpdateMessage } from '../codec/types.js';
import { BgpSession } from '../fsm/session.js';
import type { NegotiatedSession } from '../fsm/types.js';
import { readMd5Counters, type Md5Counters } from '../net/tcp-security.js';
import { exportFilter } from '../policy/export.js';
import { importFilter } from '../policy/import.js';
import { Rib, type Candidate, type PeerRib } from '../rib/index.js';
import type { PathAttributes, Prefix, RouteSink } from '../types.js';
import { GracefulRestart } from './graceful.js';
import { Listeners } from './listener.js';
import { OriginationQueue } from './originate.js';
import { Output } from './output.js';
import { normalizeAddress as normalize, type Peer, type PeerView } from './peer.js';
import { connectHint, peerStatusOf, routeStatus } from './status.js';
import type { OriginatedRoute, PeerConfig, PeerStatus, RouteStatus, SpeakerConfig } from './types.js';
import { adjOutOf, tablePaths, type AdjOutRoute, type TablePath } from './views.js';

export { DEFAULT_MAX_QUEUED_BYTES } from './output.js';
export type { PeerView } from './peer.js';
export type { TablePath } from './views.js';

export type PeerReset = 'hard' | 'in' | 'out' | 'both';

/**
 * Changes for the management API (GoBGP's WatchEvent, route ages), emitted once applied: it
 * listens instead of polling. `paths`: the paths of `source` ('local' or a peer address) for these
 * prefixes changed; undefined prefixes: any of that source's may have (session down, purge, …).
 */
export interface SpeakerEvents {
  peer: [address: string];
  paths: [source: string, prefixes: readonly Prefix[] | undefined];
}

export class Speaker {
  private readonly peers = new Map<string, Peer>();
  private readonly byRib = new Map<PeerRib, Peer>();
  private readonly rib: Rib;
  private readonly local: OriginationQueue;
  private readonly out: Output;
  private readonly gr: GracefulRestart;
  private readonly listeners: Listeners;
  private stopped = false;
  /** The kernel's TCP-MD5 counters, read once per event-loop turn (peers starting together change state in one turn). */
  private md5Read: Md5Counters | undefined | null = null;
  readonly events = new EventEmitter<SpeakerEvents>();

  constructor(
    readonly config: SpeakerConfig,
    sink: RouteSink,
    private readonly log: Logger,
  ) {
    // The events fire only once peers are up, after `out` is set.
    this.rib = new Rib(
      { asNumber: config.asNumber, routerId: config.routerId, clusterId: config.clusterId, deferred: !!config.gracefulRestart?.restarting },
      {
        onRoute: (e) => sink.onRoute(e),
        groupChanged: (g, more) => this.out.scheduleGroup(g, more),
        peerChanged: (p, more) => this.out.schedulePeer(p, more),
        trimDue: () => this.out.scheduleTrim(),
      },
    );
    this.out = new Output(this.rib, (r) => this.byRib.get(r), { maxQueuedBytes: config.maxQueuedBytes, mraiMs: config.mraiMs }, log);
    this.local = new OriginationQueue(this.rib);
    this.gr = new GracefulRestart(config, this.rib, log, (source) => this.events.emit('paths', source, undefined));
    this.listeners = new Listeners(log);
  }

  /** Counters for tests and status: group batches encoded, writes of them, stalls, resyncs. */
  get outStats(): Output['stats'] {
    return this.out.stats;
  }

  async start(peers: PeerConfig[] = []): Promise<void> {
    const port = this.config.listenPort ?? 179;
    if (port !== 0) await this.listeners.listen(port, this.config.listenAddresses ?? ['::'], (a) => (this.stopped ? undefined : this.peers.get(a)));
    this.gr.startDeferral(() => this.endDeferral('deferral timer expired'));
    this.setPeers(peers);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.peers.values()) {
      p.session.stop(2, 'speaker shutting down');
      this.gr.setStaleTimer(p, undefined, 'speaker shutting down');
    }
    this.gr.stopDeferral();
    this.local.stop();
    await this.listeners.close();
  }

  /** Applies a new peer set: adds, removes and restarts only what changed. */
  setPeers(configs: PeerConfig[]): void {
    const want = new Map(configs.map((c) => [normalize(c.address), c]));
    for (const [addr, p] of this.peers) {
      const next = want.get(addr);
      if (!next) this.removePeer(p, 3, 'peer de-configured');
      else if (JSON.stringify(next) !== JSON.stringify(p.config)) this.removePeer(p, 6, 'peer configuration changed');
    }
    for (const [addr, c] of want) if (!this.peers.has(addr)) this.addPeer(addr, c);
    this.rib.setReflector(configs.some((c) => c.rrClient));
    // A removed peer may have been the last one whose End-of-RIB we were waiting for.
    this.checkDeferral();
  }

  /**
   * Originates prefixes with the given attributes (ORIGIN IGP and an empty AS_PATH by default).
   * A large call is applied in slices (see OriginationQueue); originated() and routes() include
   * every call made so far.
   */
  announce(prefixes: Prefix[], attrs: Partial<PathAttributes> = {}): void {
    // Interned: re-announcing an unchanged route yields the same path object (nothing to send).
    this.local.originate(prefixes, this.rib.intern({ origin: 0, asPath: [], ...attrs }));
    this.events.emit('paths', 'local', prefixes);
  }

  /** Stops originating prefixes (applied like announce). */
  withdraw(prefixes: Prefix[]): void {
    this.local.originate(prefixes, undefined);
    this.events.emit('paths', 'local', prefixes);
  }

  /** Originated prefixes whose announce/withdraw has not taken full effect yet (0: all selected). */
  get localSelectionPending(): number {
    return this.local.pending;
  }

  originated(): OriginatedRoute[] {
    this.local.settle();
    return [...this.rib.localRoutes()];
  }

  peerStatus(): PeerStatus[] {
    const md5 = readMd5Counters();
    return [...this.peers.values()].map((p) => peerStatusOf(p.config, p.session, p.rib, md5));
  }

  routes(): RouteStatus[] {
    this.local.settle();
    return routeStatus(this.rib);
  }

  /** Peers for the management API, in configuration order. */
  peerViews(): PeerView[] {
    return [...this.peers.values()].map((p) => ({ config: p.config, session: p.session, rib: p.rib, adminDown: !!p.adminDown }));
  }

  /** Every path of the table (originated first, then each peer's Adj-RIB-In), best flagged. */
  tablePaths(): TablePath[] {
    this.local.settle();
    return tablePaths(this.rib);
  }

  /** What one peer is sent: the export of every best path to it (undefined: no such peer). */
  adjOut(address: string): AdjOutRoute[] | undefined {
    const p = this.peers.get(normalize(address));
    return p && adjOutOf(p, this.rib, this.config, [...this.peers.values()].some((x) => x.config.rrClient));
  }

  /**
   * `gobgp neighbor ADDR reset|softresetin|softresetout`: a hard reset drops the session with a
   * Cease (Administrative Reset) and reconnects; soft in asks for the peer's routes again (route
   * refresh), soft out sends ours again. False: no such peer, or a soft reset without a session
   * (or, inbound, without the peer's route-refresh capability).
   */
  resetPeer(address: string, how: PeerReset, reason = 'administrative reset'): boolean {
    const p = this.peers.get(normalize(address));
    if (!p) return false;
    if (how === 'hard') {
      if (p.adminDown) return true;
      p.session.stop(4, reason);
      p.session.start();
      return true;
    }
    const s = p.session.negotiated;
    if (!s || (how !== 'out' && !s.routeRefresh)) return false;
    if (how !== 'out') for (const f of s.families) p.session.send({ type: 'ROUTE_REFRESH', afi: f.afi, safi: f.safi, subtype: 0 });
    if (how !== 'in') this.out.resend(p);
    return true;
  }

  /** `gobgp neighbor ADDR shutdown|disable` (down) and `enable`: the peer stays configured. */
  setAdminDown(address: string, down: boolean, reason = 'administratively shut down'): boolean {
    const p = this.peers.get(normalize(address));
    if (!p) return false;
    if (!!p.adminDown === down) return true;
    p.adminDown = down;
    if (down) p.session.stop(2, reason);
    else p.session.start();
    this.events.emit('peer', p.rib.address);
    return true;
  }

  /** Output side of one peer (diagnostics, tests): mode, bytes queued on its socket, own queue, group size, its stalls and re-syncs. */
  outQueue(address: string): { mode: PeerRib['mode']; queuedBytes: number; pending: number; groupMembers: number; stalls: number; resyncs: number } | undefined {
    const p = this.peers.get(normalize(address));
    return p && { mode: p.rib.mode, queuedBytes: p.session.queuedBytes, pending: p.rib.pending.size, groupMembers: p.rib.group?.members.size ?? 0, ...this.out.peerStats(p.rib) };
  }

  /** The Loc-RIB best paths (prefix → candidate). */
  bestPaths(): Candidate[] {
    return this.rib.bestPaths();
  }

  /** Selection and sending are held back: we are restarting and not every peer's End-of-RIB is in. */
  get selectionDeferred(): boolean {
    return this.rib.deferred;
  }

  private addPeer(addr: string, c: PeerConfig): void {
    const families = (c.families ?? this.config.families ?? [4, 6]).map((f) => ({ afi: f === 4 ? 1 : 2, safi: 1 }));
    const session = new BgpSession({
      peerAddress: addr,
      peerPort: c.port,
      localAddress: c.sourceAddress,
      password: c.password,
      ttlSecurity: c.ttlSecurity,
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
        gracefulRestart: this.gr.capability(c),
        // Calico's BIRD runs every session with `add paths on`: several paths per prefix are accepted,
        // and on iBGP sessions (the node mesh, reflector and clients) every path is sent too, so that
        // several paths survive reflection (eBGP peers get the best path, as before).
        addPathReceive: true,
        addPathSend: c.asNumber === this.config.asNumber,
      },
    });
    const peer: Peer = {
      config: c,
      session,
      rib: this.rib.addPeer(addr, { asNumber: c.asNumber, rrClient: c.rrClient, keepOriginalNextHop: c.keepOriginalNextHop, exportFilter: exportFilter(c.filters), allowLocalAs: c.numAllowedLocalASNumbers }),
      importFilter: importFilter(c.filters),
    };
    session.listeners = {
      established: (s) => this.onEstablished(peer, s),
      // The FSM decides which downs are graceful (RFC 4724 / 8538); not while we shut down.
      down: (reason, n) => this.gr.sessionDown(peer, !!session.fsm.config.gracefulRestart && n.graceful && !this.stopped, reason),
      update: (u) => this.onUpdate(peer, u),
      routeRefresh: () => this.out.resend(peer),
      state: (_from, to) => {
        this.logHint(peer, to);
        this.events.emit('peer', addr);
      },
    };
    this.peers.set(addr, peer);
    this.byRib.set(peer.rib, peer);
    this.listeners.setKey(addr, c.password);
    session.start();
  }

  private removePeer(p: Peer, subcode: number, reason: string): void {
    p.session.stop(subcode, reason);
    this.gr.setStaleTimer(p, undefined, reason);
    this.peers.delete(p.rib.address);
    this.byRib.delete(p.rib);
    this.rib.removePeer(p.rib);
    if (p.config.password !== undefined) this.listeners.setKey(p.rib.address, undefined);
    this.events.emit('paths', p.rib.address, undefined);
    this.events.emit('peer', p.rib.address);
  }

  /** Says once per outage why a peer may not be connecting (MD5 and GTSM drops are silent). */
  private logHint(p: Peer, state: string): void {
    if (state === 'Established') p.hinted = false;
    if (p.hinted || (state !== 'Active' && state !== 'Idle')) return;
    const hint = connectHint(p.config, state, this.md5Counters());
    if (!hint) return;
    p.hinted = true;
    this.log.warn({ peer: p.config.address, hint }, 'BGP peer not connecting');
  }

  private md5Counters(): Md5Counters | undefined {
    if (this.md5Read === null) {
      this.md5Read = readMd5Counters();
      setImmediate(() => (this.md5Read = null));
    }
    return this.md5Read;
  }

  private onEstablished(p: Peer, s: NegotiatedSession): void {
    this.gr.sessionUp(p, s);
    if (!this.rib.deferred) this.out.sendInitial(p);
    else this.checkDeferral(); // a peer restarting too (R) does not hold selection back
  }

  private onUpdate(p: Peer, u: UpdateMessage): void {
    const eor = isEndOfRib(u);
    if (!eor) {
      this.rib.update(p.rib, p.importFilter ? p.importFilter(u) : u);
      if (this.events.listenerCount('paths')) this.events.emit('paths', p.rib.address, [...u.withdrawn, ...u.nlri, ...(u.mpReach?.nlri ?? []), ...(u.mpUnreach?.withdrawn ?? [])]);
      return;
    }
    this.log.debug({ peer: p.config.address, family: `${eor.afi}/${eor.safi}` }, 'End-of-RIB received');
    this.gr.logPurge(p, this.rib.endOfRib(p.rib, eor), 'End-of-RIB');
    this.checkDeferral();
  }

  private checkDeferral(): void {
    if (this.rib.deferralDone((r) => this.byRib.get(r)?.session.negotiated)) this.endDeferral('End-of-RIB received from all peers');
  }

  private endDeferral(why: string): void {
    if (!this.rib.deferred) return;
    this.gr.stopDeferral();
    this.log.info({ why }, 'graceful restart: running route selection');
    this.local.settle();
    this.rib.endDeferral();
    this.events.emit('paths', 'local', undefined); // selection ran: every best flag may have changed
    // Our restart is over: later sessions advertise neither R nor F.
    for (const p of this.peers.values()) p.session.fsm.setGracefulRestart(this.gr.capability(p.config));
    for (const p of this.peers.values()) if (p.session.negotiated) this.out.sendInitial(p);
  }
}
