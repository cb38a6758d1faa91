// The BGP speaker: the shell around the pure RIB (bgp/rib). It owns the listener, one BgpSession
// per peer, timers (MRAI batching, graceful-restart stale and deferral timers), encoding and
// socket back-pressure, and setPeers() diffing; the RIB decides what is selected and what each
// update group or peer must send.
import { createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endOfRib, isEndOfRib } from '../codec/index.js';
import type { UpdateMessage } from '../codec/types.js';
import { BgpSession } from '../fsm/session.js';
import { exportFilter } from '../policy/export.js';
import { importFilter, type ImportFilter } from '../policy/import.js';
import { fdOf, readMd5Counters, setMd5Key, setTtlSecurity } from '../net/tcp-security.js';
import type { FsmConfig, NegotiatedSession } from '../fsm/types.js';
import { exportRoute, keyToPrefix, Rib, Announcements, type Candidate, type OutGroup, type Path, type PeerRib, type Purge } from '../rib/index.js';
import type { PathAttributes, Prefix, RouteSink } from '../types.js';
import { Batcher } from './batcher.js';
import { Encoder, framesFor } from './encoder.js';
import { OriginationQueue } from './originate.js';
import { connectHint, peerStatusOf, routeStatus } from './status.js';
import type { OriginatedRoute, PeerConfig, PeerStatus, RouteStatus, SpeakerConfig } from './types.js';

interface Peer {
  config: PeerConfig;
  /** Shut down through the management API (`gobgp neighbor ADDR disable`): no session until enabled. */
  adminDown?: boolean;
  session: BgpSession;
  rib: PeerRib;
  /** The connect hint was logged since the session was last up (once, not on every retry). */
  hinted?: boolean;
  /** BGPFilter import rules (absent: everything is accepted). */
  importFilter?: ImportFilter;
  /** Graceful-restart helper: the peer is restarting and we keep its routes until this fires. */
  staleTimer?: NodeJS.Timeout;
}

/**
 * Per-socket back-pressure: bytes a peer may have queued in user space before it is taken out
 * of its group. A stalled peer costs at most this plus one batch, and a set of changed prefix
 * keys (bounded by the table size); when its socket drains it re-syncs exactly those prefixes
 * from the Loc-RIB and rejoins its group. Its hold timer is its own business.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** A peer for the management API (bgp/api): read-only by contract. */
export interface PeerView {
  readonly config: PeerConfig;
  readonly session: BgpSession;
  readonly rib: PeerRib;
  readonly adminDown: boolean;
}

/** One path of the table for the management API: originated (source 'local') or from a peer's Adj-RIB-In. */
export interface TablePath {
  prefix: string;
  path: Pick<Path, 'attrs' | 'nextHop' | 'source' | 'stale'>;
  best: boolean;
}

export type PeerReset = 'hard' | 'in' | 'out' | 'both';

const normalize = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

export class Speaker {
  private readonly peers = new Map<string, Peer>();
  private readonly byRib = new Map<PeerRib, Peer>();
  private readonly rib: Rib;
  private readonly local: OriginationQueue;
  private readonly encoder: Encoder;
  private readonly batcher: Batcher<object>;
  private readonly servers: Server[] = [];
  private deferralTimer?: NodeJS.Timeout;
  private stopped = false;
  private trimScheduled = false;
  /** Counters for tests and status: group batches encoded, writes of them, stalls, resyncs. */
  readonly outStats = { groupBatches: 0, groupWrites: 0, stalls: 0, resyncs: 0, packReuses: 0 };

  constructor(
    readonly config: SpeakerConfig,
    sink: RouteSink,
    private readonly log: Logger,
  ) {
    this.rib = new Rib(
      { asNumber: config.asNumber, routerId: config.routerId, clusterId: config.clusterId, deferred: !!config.gracefulRestart?.restarting },
      {
        onRoute: (e) => sink.onRoute(e),
        groupChanged: (g, more) => this.batcher.schedule(g, () => this.flushGroup(g), more),
        peerChanged: (p, more) => this.scheduleFlush(p, more),
        trimDue: () => this.scheduleTrim(),
      },
    );
    this.local = new OriginationQueue(this.rib);
    this.encoder = new Encoder(log);
    this.batcher = new Batcher(config.mraiMs ?? 0);
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
    if (this.rib.deferred) {
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
    this.local.stop();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
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
  }

  /** Stops originating prefixes (applied like announce). */
  withdraw(prefixes: Prefix[]): void {
    this.local.originate(prefixes, undefined);
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
    const out: TablePath[] = [];
    for (const r of this.rib.localRoutes()) {
      const k = `${r.prefix.address}/${r.prefix.length}`;
      out.push({ prefix: k, path: { attrs: r.attrs, nextHop: '', source: 'local' }, best: this.rib.selected(k)?.source === 'local' });
    }
    for (const [addr, p] of this.rib.peers) for (const [k, r] of p.adjIn) out.push({ prefix: k, path: r, best: this.rib.selected(k)?.source === addr });
    return out;
  }

  /** What one peer is sent: the export of every best path to it (undefined: no such peer). */
  adjOut(address: string): Array<{ prefix: Prefix; attrs: PathAttributes; nextHop: string }> | undefined {
    const p = this.peers.get(normalize(address));
    if (!p) return undefined;
    if (p.session.state !== 'Established') return [];
    const target = {
      address: p.rib.address,
      ebgp: p.rib.ebgp,
      rrClient: !!p.config.rrClient,
      localAs: this.config.asNumber,
      clusterId: this.config.clusterId ?? this.config.routerId,
      reflector: [...this.peers.values()].some((x) => x.config.rrClient),
      selfAddress: p.rib.selfAddress,
      keepOriginalNextHop: p.config.keepOriginalNextHop,
    };
    const out = [];
    for (const c of this.rib.bestPaths()) {
      if (!p.rib.afis.includes(c.prefix.family === 4 ? 1 : 2)) continue;
      const e = exportRoute(c, c.prefix.family, target);
      if (e) out.push({ prefix: c.prefix, ...e });
    }
    return out;
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
    if (how !== 'in') this.resend(p);
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
    return true;
  }

  /** Output side of one peer (diagnostics, tests): mode, bytes queued on its socket, own queue, group size. */
  outQueue(address: string): { mode: PeerRib['mode']; queuedBytes: number; pending: number; groupMembers: number } | undefined {
    const p = this.peers.get(normalize(address));
    return p && { mode: p.rib.mode, queuedBytes: p.session.queuedBytes, pending: p.rib.pending.size, groupMembers: p.rib.group?.members.size ?? 0 };
  }

  /** The Loc-RIB best paths (prefix → candidate). */
  bestPaths(): Candidate[] {
    return this.rib.bestPaths();
  }

  /** Selection and sending are held back: we are restarting and not every peer's End-of-RIB is in. */
  get selectionDeferred(): boolean {
    return this.rib.deferred;
  }

  /**
   * The GR capability for new OPENs: R and F only while our own restart is in progress (selection
   * deferred), F only for the families whose forwarding state survived; N always (RFC 8538).
   */
  private grCapability(peer?: PeerConfig): FsmConfig['gracefulRestart'] {
    const gr = this.config.gracefulRestart;
    if (!gr) return undefined;
    const restarting = this.rib.deferred;
    const fwd = gr.forwardingFamilies;
    return {
      restartTime: peer?.maxRestartTime ?? gr.restartTime ?? 120,
      restarting,
      forwardingState: restarting,
      ...(restarting && fwd ? { forwardingAfis: fwd.map((f) => (f === 4 ? 1 : 2)) } : {}),
      notification: true,
    };
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
        gracefulRestart: this.grCapability(c),
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
      down: (reason, n) => this.onDown(peer, reason, !n.graceful),
      update: (u) => this.onUpdate(peer, u),
      routeRefresh: () => this.resend(peer),
      state: (_from, to) => this.logHint(peer, to),
    };
    this.peers.set(addr, peer);
    this.byRib.set(peer.rib, peer);
    this.setListenerKeys(addr, c.password);
    session.start();
  }

  private removePeer(p: Peer, subcode: number, reason: string): void {
    p.session.stop(subcode, reason);
    if (p.staleTimer) clearTimeout(p.staleTimer);
    this.peers.delete(p.rib.address);
    this.byRib.delete(p.rib);
    this.rib.removePeer(p.rib);
    if (p.config.password !== undefined) this.setListenerKeys(p.rib.address, undefined);
  }

  /** The TCP-MD5 key for connections the listeners accept from `addr` (undefined: none). */
  private setListenerKeys(addr: string, password: string | undefined): void {
    for (const srv of this.servers) {
      const host = (srv.address() as AddressInfo | null)?.address ?? '';
      // An IPv4 listener cannot hold a key for an IPv6 peer (nor the other way round, but '::' takes both).
      if (isIP(host) !== 6 && isIP(addr) === 6) continue;
      try {
        setMd5Key(fdOf(srv), addr, password);
      } catch (err) {
        this.log.error({ peer: addr, err }, 'cannot set the TCP-MD5 key for accepted connections');
      }
    }
  }

  /** Says once per outage why a peer may not be connecting (MD5 and GTSM drops are silent). */
  private logHint(p: Peer, state: string): void {
    if (state === 'Established') p.hinted = false;
    if (p.hinted || (state !== 'Active' && state !== 'Idle')) return;
    const hint = connectHint(p.config, state, readMd5Counters());
    if (!hint) return;
    p.hinted = true;
    this.log.warn({ peer: p.config.address, hint }, 'BGP peer not connecting');
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
    if (p.config.ttlSecurity) {
      try {
        setTtlSecurity(fdOf(socket), p.config.ttlSecurity);
      } catch (err) {
        this.log.error({ remote, err }, 'cannot set GTSM on an accepted connection: refusing it');
        socket.destroy();
        return;
      }
    }
    p.session.accept(socket);
  }

  private onEstablished(p: Peer, s: NegotiatedSession): void {
    const up = this.rib.sessionUp(p.rib, { routerId: s.peerRouterId, selfAddress: p.session.localAddress, afis: s.families.map((f) => f.afi), peerGr: s.peerGracefulRestart });
    // The restarting peer is back: keep its stale routes until its End-of-RIB (or this timer).
    this.setStaleTimer(p, up.staleTimerMs, 'stale timer expired after restart');
    for (const x of up.purged) this.logPurge(p, x, s.peerGracefulRestart ? 'peer restarted without forwarding state for the family' : 'peer came back without graceful restart');
    if (!this.rib.deferred) this.sendInitial(p);
    else this.checkDeferral(); // a peer restarting too (R) does not hold selection back
  }

  private onDown(p: Peer, reason: string, notified: boolean): void {
    // RFC 4724 helper: routes of a peer that advertised GR survive a TCP failure, and with the N bit
    // (RFC 8538) any NOTIFICATION but Hard Reset — the FSM decides which (`graceful`).
    const down = this.rib.sessionDown(p.rib, !!p.session.fsm.config.gracefulRestart && !notified && !this.stopped);
    if ('staleTimerMs' in down) {
      this.log.info({ peer: p.config.address, restartTime: down.staleTimerMs / 1000, routes: down.routes }, 'peer restarting: keeping its routes as stale');
      this.setStaleTimer(p, down.staleTimerMs, 'restart time expired');
    } else this.log.info({ peer: p.config.address, reason }, 'dropping routes of peer');
  }

  /** (Re)arms the helper's stale timer (undefined: stops it). */
  private setStaleTimer(p: Peer, ms: number | undefined, why: string): void {
    if (p.staleTimer) clearTimeout(p.staleTimer);
    p.staleTimer = undefined;
    if (ms === undefined) return;
    p.staleTimer = setTimeout(() => this.logPurge(p, this.rib.purgeStale(p.rib), why), ms);
    p.staleTimer.unref();
  }

  /** Logs stale routes a GR step dropped, and stops the stale timer once none remain. */
  private logPurge(p: Peer, x: Purge, why: string): void {
    if (!p.rib.helping && p.staleTimer) this.setStaleTimer(p, undefined, why);
    if (x.routes) this.log.info({ peer: p.config.address, routes: x.routes, why, ...(x.family ? { family: x.family } : {}) }, 'purging stale routes');
  }

  private onUpdate(p: Peer, u: UpdateMessage): void {
    const eor = isEndOfRib(u);
    if (!eor) return this.rib.update(p.rib, p.importFilter ? p.importFilter(u) : u);
    this.log.debug({ peer: p.config.address, family: `${eor.afi}/${eor.safi}` }, 'End-of-RIB received');
    this.logPurge(p, this.rib.endOfRib(p.rib, eor), 'End-of-RIB');
    this.checkDeferral();
  }

  private scheduleFlush(p: PeerRib, more = false): void {
    this.batcher.schedule(p, () => this.flush(p), more);
  }

  /** One batch for a whole group: exported once, encoded once, the same Buffers to every member. */
  private flushGroup(g: OutGroup): void {
    if (!this.rib.out.isLive(g)) return;
    const batch = this.rib.out.groupBatch(g);
    if (!batch) return;
    const frames = this.encoder.groupFrames(g, batch);
    this.outStats.groupBatches++;
    this.outStats.packReuses = this.encoder.packReuses;
    /** This batch's own-route frames per member address. */
    const ownFrames = new Map<string, Buffer>();
    for (const m of [...g.members]) {
      const peer = this.byRib.get(m);
      if (!peer || peer.session.state !== 'Established') continue;
      if (peer.session.queuedBytes > this.maxQueued) {
        this.stall(peer, batch.keys);
        continue;
      }
      const out = framesFor(frames, m.routerId, g.ctx);
      if (batch.own.length) {
        const self = m.selfAddress ?? '';
        let own = ownFrames.get(self);
        if (!own) {
          const b = this.rib.out.ownBatch(g, self, batch.own);
          ownFrames.set(self, (own = this.encoder.pack(b.routes, b.withdrawals, g.ctx, g.ctxKey, peer.config.address).all));
        }
        out.push(own);
      }
      this.write(peer, out);
      this.outStats.groupWrites++;
    }
  }

  private get maxQueued(): number {
    return this.config.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  }

  /** One write for a peer's frames (the session writes each Buffer on its own). */
  private write(p: Peer, frames: Buffer[]): void {
    p.session.sendRaw(frames.length > 1 ? [Buffer.concat(frames)] : frames);
  }

  /** Once per turn: drops the change-log entries every group has exported. */
  private scheduleTrim(): void {
    if (this.trimScheduled) return;
    this.trimScheduled = true;
    setImmediate(() => {
      this.trimScheduled = false;
      this.encoder.trim(this.rib.out.trim());
    });
  }

  /** A member whose socket is not keeping up leaves its group until the socket drains. */
  private stall(p: Peer, batch: readonly string[]): void {
    this.rib.out.stall(p.rib, batch);
    this.outStats.stalls++;
    this.log.warn({ peer: p.config.address, queued: p.session.queuedBytes }, 'peer is not reading: out of its update group until its socket drains');
    this.waitDrain(p);
  }

  private waitDrain(p: Peer): void {
    const s = p.session;
    s.onDrain(() => {
      if (p.session !== s) return;
      const stalled = p.rib.mode === 'stalled';
      if (!this.rib.out.resume(p.rib)) return;
      if (stalled) this.outStats.resyncs++;
      this.scheduleFlush(p.rib, true);
    });
  }

  /** A peer outside its group sends its own queue, then joins the group. */
  private flush(r: PeerRib): void {
    const p = this.byRib.get(r);
    const ctx = p?.session.codecContext;
    if (!p || !ctx || p.session.state !== 'Established' || r.mode !== 'sync') return;
    if (p.session.queuedBytes > this.maxQueued) {
      this.rib.out.pause(r);
      this.waitDrain(p);
      return;
    }
    const b = this.rib.out.syncBatch(r);
    const ctxKey = JSON.stringify(ctx);
    const routes = new Announcements();
    /** UPDATEs already encoded (the encoder's cache): a peer joining a reflector of single-route nodes gets mostly these. */
    const encoded: Buffer[] = [];
    for (let i = 0; i < b.outs.length; i++) {
      const out = b.outs[i];
      const hit = this.encoder.cached(out, ctxKey, b.keys[i]);
      if (!hit) routes.add(out, keyToPrefix(b.keys[i]));
      // Its own routes go as withdrawals, as framesFor does for the rest.
      else if (!r.routerId || out.attrs.originatorId !== r.routerId) encoded.push(hit);
      else b.withdrawals.push(keyToPrefix(b.keys[i]));
    }
    if (routes.size || b.withdrawals.length) encoded.push(...framesFor(this.encoder.pack(routes, b.withdrawals, ctx, ctxKey, p.config.address), r.routerId, ctx));
    if (encoded.length) this.write(p, encoded);
    if (!b.done) return this.scheduleFlush(r, true);
    if (this.rib.out.join(r, ctx)) for (const f of p.session.negotiated?.families ?? []) p.session.send(endOfRib(f.afi, f.safi));
  }

  private sendInitial(p: Peer): void {
    if (!p.session.negotiated) return;
    this.rib.out.startSync(p.rib);
    this.flush(p.rib);
  }

  /** Route refresh: the whole table again, as replacements (the peer keeps what it has meanwhile). */
  private resend(p: Peer): void {
    if (p.session.negotiated && this.rib.out.resync(p.rib)) this.flush(p.rib);
  }

  private checkDeferral(): void {
    if (this.rib.deferralDone((r) => this.byRib.get(r)?.session.negotiated)) this.endDeferral('End-of-RIB received from all peers');
  }

  private endDeferral(why: string): void {
    if (!this.rib.deferred) return;
    if (this.deferralTimer) clearTimeout(this.deferralTimer);
    this.log.info({ why }, 'graceful restart: running route selection');
    this.local.settle();
    this.rib.endDeferral();
    // Our restart is over: later sessions advertise neither R nor F.
    for (const p of this.peers.values()) p.session.fsm.setGracefulRestart(this.grCapability(p.config));
    for (const p of this.peers.values()) if (p.session.negotiated) this.sendInitial(p);
  }
}
