// GoBGP v3's gRPC API (service apipb.GobgpApi, gobgp 3.10 protos in bgp/api/proto) served by
// tortie-node and tortie-rr, so the stock `gobgp` CLI and GoBGP scripts work unchanged. The thin
// shell: requests are checked and turned into speaker calls here; the message shapes are built by
// the pure converters (convert.ts, peer.ts). Methods not listed in `handlers` answer UNIMPLEMENTED.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { buildOpen } from '../../fsm/open.js';
import { keyToPrefix, rankPaths, type PathInfo } from '../../rib/index.js';
import type { Speaker } from '../../speaker/speaker.js';
import type { Prefix } from '../../types.js';
import { destinations, familyFromApi, InvalidArgument, pathToApi, routeFromApi, type ApiPath, type RouteFromApi } from './convert.js';
import { peerToApi, type PeerSnapshot } from './peer.js';
import { lookupFilter, type LookupPrefix } from './lookup.js';
import { PEER_STATUS_REQUEST, PEER_STATUS_TRAILER, gobgpService } from './service.js';
import { snapshotOf } from './snapshot.js';
import { parseWatchRequest, startWatch, type WatchView } from './watch.js';


type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown> | grpc.ServerWritableStream<Record<string, unknown>, unknown>;
type Handler = (call: Call, cb: grpc.sendUnaryData<unknown>) => void | Promise<void>;

class ApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export interface GobgpApiOptions {
  /** The running speaker (replaced when the AS changes; undefined before the first config). */
  speaker: () => Speaker | undefined;
  log: Logger;
  /** Clock for ages and uptimes (tests pass their own). */
  now?: () => number;
}

/** A route added through AddPath: ours to delete, kept only in memory. */
interface ApiRoute {
  route: RouteFromApi;
  uuid: Buffer;
  /** When it was added (its age in the table). */
  at: number;
}

export class GobgpApiServer {
  private readonly server = new grpc.Server();
  private readonly added = new Map<string, ApiRoute>();
  /**
   * When a path (source|prefix → path object) arrived, for ages: the table keeps no time, so the
   * speaker's events stamp the prefixes they touch (CHANGED until the path object is next read).
   */
  private readonly seen = new Map<string, { path: object; at: number }>();
  /** The speaker whose events stamp `seen`. */
  private attached?: Speaker;
  private readonly started: number;
  private readonly unixPaths: string[] = [];
  private readonly watchers = new Set<() => void>();

  constructor(private readonly opts: GobgpApiOptions) {
    this.started = this.now();
    const service = gobgpService();
    const impl: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(service)) {
      const h = this.handlers[name];
      impl[name] = (call: Call, cb: grpc.sendUnaryData<unknown>) => this.dispatch(name, h, call, cb);
    }
    this.server.addService(service, impl);
    this.track();
  }

  /** Follows the current speaker (call when it is replaced): its events stamp the ages of paths. */
  track(): void {
    const s = this.opts.speaker();
    if (s === this.attached) return;
    this.attached?.events.off('paths', this.stamp);
    this.seen.clear();
    this.attached = s;
    s?.events.on('paths', this.stamp);
  }

  private readonly stamp = (source: string, prefixes: readonly Prefix[] | undefined): void => {
    if (!prefixes) return; // a whole session went or came back: its paths are re-stamped as they arrive
    const at = this.now();
    // One stamp per route the API may list (stampOf updates each in place): join keeps its key one
    // flat string (a template's result stays a tree of pieces in V8, several times the bytes).
    for (const p of prefixes) this.seen.set([source, '|', p.address, '/', p.length].join(''), { path: CHANGED, at });
  };

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Listens on each of `hosts` ("host:port", "unix:///path"; see hosts.ts). */
  async listen(hosts: readonly string[]): Promise<string[]> {
    const bound: string[] = [];
    for (const h of hosts) {
      let target = h.startsWith(':') ? `0.0.0.0${h}` : h; // gobgpd's ":50051" means every address
      if (h.startsWith('unix:')) {
        const path = h.replace(/^unix:(\/\/)?/, '');
        mkdirSync(dirname(path), { recursive: true });
        rmSync(path, { force: true }); // a stale socket from a killed process would block bind
        this.unixPaths.push(path);
        target = `unix:${path}`;
      }
      const port = await new Promise<number>((resolve, reject) => this.server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
      bound.push(target.startsWith('unix:') ? target : target.replace(/:\d+$/, `:${port}`));
    }
    return bound;
  }

  async close(): Promise<void> {
    for (const stop of this.watchers) stop();
    this.attached?.events.off('paths', this.stamp);
    // Calls in flight get a moment; a client that keeps its connection open must not hold up a stop.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    this.server.forceShutdown();
    for (const p of this.unixPaths) rmSync(p, { force: true });
  }

  private async dispatch(name: string, h: Handler | undefined, call: Call, cb: grpc.sendUnaryData<unknown>): Promise<void> {
    const fail = (code: grpc.status, details: string): void => {
      if ('write' in call) call.emit('error', Object.assign(new Error(details), { code, details }));
      else cb({ code, details });
    };
    if (!h) return fail(grpc.status.UNIMPLEMENTED, `${name} is not implemented by tortie`);
    try {
      await h(call, cb);
    } catch (e) {
      if (e instanceof InvalidArgument) return fail(grpc.status.INVALID_ARGUMENT, e.message);
      if (e instanceof ApiError) return fail(e.code, e.message);
      this.opts.log.error({ err: e, method: name }, 'GoBGP API handler failed');
      fail(grpc.status.INTERNAL, e instanceof Error ? e.message : String(e));
    }
  }

  private speaker(): Speaker {
    this.track();
    const s = this.opts.speaker();
    if (!s) throw new ApiError(grpc.status.FAILED_PRECONDITION, 'bgp server has not started yet (no BGP configuration from the datastore)');
    return s;
  }

  private readonly handlers: Record<string, Handler> = {
    GetBgp: (_c, cb) => {
      const s = this.speaker();
      cb(null, {
        global: { asn: s.config.asNumber, router_id: s.config.routerId, listen_port: s.config.listenPort ?? 179, listen_addresses: s.config.listenAddresses ?? ['::'], families: [] },
      });
    },
    ListPeer: (c) => {
      const req = c.request;
      const addr = str(req.address, 'address');
      const s = this.speaker();
      const stream = c as grpc.ServerWritableStream<Record<string, unknown>, unknown>;
      for (const p of this.peers(s)) if (!addr || p.address === addr) stream.write({ peer: peerToApi(p) });
      const trailer = new grpc.Metadata();
      if (c.metadata.get(PEER_STATUS_REQUEST).length) trailer.set(PEER_STATUS_TRAILER, Buffer.from(JSON.stringify(s.peerStatus().filter((p) => !addr || p.address === addr))));
      stream.end(trailer);
    },
    ListPath: (c) => {
      const req = c.request;
      const family = familyFromApi(req.family as never);
      const prefixes = (req.prefixes ?? []) as LookupPrefix[];
      const match = lookupFilter(prefixes, family);
      const s = this.speaker();
      const stream = c as grpc.ServerWritableStream<Record<string, unknown>, unknown>;
      const paths = this.tablePaths(s, String(req.table_type ?? 'GLOBAL'), str(req.name, 'name'), family).filter((p) => match(p.prefix));
      for (const d of destinations(paths, String(req.sort_type) === 'PREFIX')) stream.write({ destination: d });
      stream.end();
    },
    GetTable: (c, cb) => {
      const req = c.request;
      const family = familyFromApi(req.family as never);
      const s = this.speaker();
      const type = String(req.table_type ?? 'GLOBAL');
      const paths = this.tablePaths(s, type, str(req.name, 'name'), family);
      const dests = new Set(paths.map((p) => `${p.prefix.address}/${p.prefix.length}`));
      // gobgpd counts an Adj-RIB-In's paths as its destinations too (each ADD-PATH path its own).
      cb(null, { num_destination: type === 'ADJ_IN' ? paths.length : dests.size, num_path: paths.length, num_accepted: type === 'ADJ_IN' ? paths.length : 0 });
    },
    AddPath: (c, cb) => {
      const req = c.request;
      if (String(req.table_type ?? 'GLOBAL') !== 'GLOBAL') throw new InvalidArgument(`table_type ${String(req.table_type)}: only GLOBAL routes can be added`);
      if (str(req.vrf_id, 'vrf_id')) throw new InvalidArgument('vrf_id: VRFs are not supported');
      const route = routeFromApi(req.path as never);
      cb(null, { uuid: this.addRoute(this.speaker(), route) });
    },
    DeletePath: (c, cb) => {
      const req = c.request;
      if (String(req.table_type ?? 'GLOBAL') !== 'GLOBAL') throw new InvalidArgument(`table_type ${String(req.table_type)}: only GLOBAL routes can be deleted`);
      const s = this.speaker();
      const uuid = req.uuid as Buffer | undefined;
      if (uuid?.length) {
        const k = [...this.added].find(([, r]) => r.uuid.equals(uuid))?.[0];
        if (!k) throw new ApiError(grpc.status.NOT_FOUND, `no route added with uuid ${uuid.toString('hex')}`);
        this.deleteRoute(s, k);
      } else if (req.path) {
        const { prefix } = routeFromApi(req.path as never);
        const k = `${prefix.address}/${prefix.length}`;
        if (!this.added.has(k)) throw new ApiError(grpc.status.NOT_FOUND, `${k} was not added through this API (routes the datastore originates are changed there)`);
        this.deleteRoute(s, k);
      } else {
        // `gobgp global rib del all`: every route this API added, of the family.
        const family = familyFromApi(req.family as never);
        for (const [k, r] of this.added) if (r.route.prefix.family === family) this.deleteRoute(s, k);
      }
      cb(null, {});
    },
    ResetPeer: (c, cb) => {
      const req = c.request;
      const dir = String(req.direction ?? 'IN');
      const how = !req.soft ? 'hard' : dir === 'IN' ? 'in' : dir === 'OUT' ? 'out' : 'both';
      const addr = this.peerAddress(req.address);
      if (!this.speaker().resetPeer(addr, how, str(req.communication, 'communication') || undefined))
        throw new ApiError(grpc.status.FAILED_PRECONDITION, `neighbor ${addr}: no established session${how === 'in' || how === 'both' ? ' with route refresh' : ''} to soft-reset`);
      cb(null, {});
    },
    ShutdownPeer: (c, cb) => this.adminDown(c, cb, true),
    DisablePeer: (c, cb) => this.adminDown(c, cb, true),
    EnablePeer: (c, cb) => this.adminDown(c, cb, false),
    AddPeer: () => this.peersFromDatastore('AddPeer'),
    DeletePeer: () => this.peersFromDatastore('DeletePeer'),
    UpdatePeer: () => this.peersFromDatastore('UpdatePeer'),
    WatchEvent: (c) => this.watch(c as grpc.ServerWritableStream<Record<string, unknown>, unknown>),
  };

  private peersFromDatastore(method: string): never {
    throw new ApiError(grpc.status.UNIMPLEMENTED, `peers come from the datastore (BGPPeer resources, the node-to-node mesh), not ${method}`);
  }

  private adminDown(c: Call, cb: grpc.sendUnaryData<unknown>, down: boolean): void {
    const addr = this.peerAddress(c.request.address);
    this.speaker().setAdminDown(addr, down, str(c.request.communication, 'communication') || undefined);
    cb(null, {});
  }

  /** A configured peer's address (normalized), or NOT_FOUND / INVALID_ARGUMENT. */
  private peerAddress(v: unknown): string {
    const addr = str(v, 'address');
    if (!addr) throw new InvalidArgument('address: a neighbor address is required');
    const p = this.speaker()
      .peerViews()
      .find((x) => x.rib.address === addr || x.config.address === addr);
    if (!p) throw new ApiError(grpc.status.NOT_FOUND, `neighbor ${addr} is not configured`);
    return p.rib.address;
  }

  private peers(s: Speaker): PeerSnapshot[] {
    return s.peerViews().map((v) => snapshotOf(v, s, buildOpen(v.session.fsm.config).capabilities));
  }

  private addRoute(s: Speaker, r: RouteFromApi): Buffer {
    const k = `${r.prefix.address}/${r.prefix.length}`;
    if (!this.added.has(k) && s.originated().some((o) => o.prefix.address === r.prefix.address && o.prefix.length === r.prefix.length))
      throw new ApiError(grpc.status.ALREADY_EXISTS, `${k} is originated from the datastore configuration; change it there`);
    const uuid = this.added.get(k)?.uuid ?? randomBytes(16);
    s.announce([r.prefix], { ...r.attrs, ...(r.nextHop ? { nextHop: r.nextHop } : {}) });
    this.added.set(k, { route: r, uuid, at: this.now() });
    this.seen.delete(`local|${k}`);
    return uuid;
  }

  private deleteRoute(s: Speaker, k: string): void {
    this.added.delete(k);
    s.withdraw([keyToPrefix(k)]);
  }

  /** Paths of one table for one family, with their sources resolved and ages stamped. */
  private tablePaths(s: Speaker, type: string, name: string, family: 4 | 6): Array<{ prefix: ReturnType<typeof keyToPrefix>; path: ApiPath }> {
    const views = new Map(s.peerViews().map((v) => [v.rib.address, v]));
    const local = { address: 'local', asNumber: s.config.asNumber, routerId: s.config.routerId, ebgp: false };
    if (type === 'GLOBAL' || type === 'LOCAL') {
      const live = new Set<string>();
      const ranked: Array<PathInfo & { prefix: Prefix; path: ApiPath }> = [];
      for (const t of s.tablePaths()) {
        const prefix = keyToPrefix(t.prefix);
        if (prefix.family !== family) continue;
        const v = views.get(t.path.source);
        const src = v ? { address: v.rib.address, asNumber: v.config.asNumber, routerId: v.rib.routerId, ebgp: v.rib.ebgp } : local;
        const key = `${t.path.source}|${t.prefix}`;
        live.add(key);
        const since = v ? (v.session.state === 'Established' ? v.session.since : this.started) : (this.added.get(t.prefix)?.at ?? this.started);
        // A peer's path objects are shared and immutable; an originated route is known by its (interned) attributes.
        const identity = v ? t.path : t.path.attrs;
        const id = v ? pathIdOf(v.rib.paths.get(t.prefix), t.path) : 0;
        const path = pathToApi(prefix, t.path.attrs, t.path.nextHop, src, t.best, !!t.path.stale, this.stampOf(key, id ? `${key}|${id}` : key, identity, since), id);
        ranked.push({ attrs: t.path.attrs, nextHop: t.path.nextHop, source: t.path.source, stale: t.path.stale, ebgp: src.ebgp, peerRouterId: src.routerId, prefix, path });
      }
      // Forget paths gone from this family's table.
      for (const k of this.seen.keys()) if (!live.has(k.split('|').slice(0, 2).join('|')) && keyToPrefix(k.split('|')[1] ?? '').family === family) this.seen.delete(k);
      // A destination's paths in the order of the decision process, as GoBGP lists them (best first).
      return byPrefix(ranked).flatMap((d) => rankPaths(d).map((r) => ({ prefix: r.prefix, path: r.path })));
    }
    if (type !== 'ADJ_IN' && type !== 'ADJ_OUT') throw new InvalidArgument(`table_type ${type} is not supported (GLOBAL, LOCAL, ADJ_IN, ADJ_OUT)`);
    if (!name) throw new InvalidArgument(`name: a neighbor address is required for ${type}`);
    const v = views.get(this.peerAddress(name));
    if (!v) return [];
    const up = v.session.state === 'Established' ? v.session.since : this.started;
    if (type === 'ADJ_IN') return this.adjInPaths(s, v.rib.address, undefined).filter((x) => x.prefix.family === family);
    const out = s.adjOut(v.rib.address) ?? [];
    return out.filter((r) => r.prefix.family === family).map((r) => ({ prefix: r.prefix, path: pathToApi(r.prefix, r.attrs, r.nextHop, local, false, false, up) }));
  }

  /**
   * When a path arrived: stamped by the speaker's event (resolved to this path object now), else,
   * for a path from before this server followed the speaker, its session's establishment (or its
   * AddPath, or this server's start); a path object replaced without an event dates from now.
   * Events name a source and prefix (`event`); an ADD-PATH path has its own `key` (…|id): new or
   * replaced, it dates from the prefix's latest event.
   */
  private stampOf(event: string, key: string, path: object, notBefore: number): number {
    const e = this.seen.get(key);
    if (e && (e.path === path || e.path === CHANGED || sameRoute(e.path, path))) {
      e.path = path;
      return e.at;
    }
    const ev = key === event ? undefined : this.seen.get(event);
    const at = ev ? ev.at : e ? this.now() : notBefore;
    this.seen.set(key, { path, at });
    return at;
  }

  /** WatchEvent (watch.ts) over this server's view of the speaker; ends when the client goes or the server stops. */
  private watch(stream: grpc.ServerWritableStream<Record<string, unknown>, unknown>): void {
    const req = parseWatchRequest(stream.request);
    const s = this.speaker();
    const view: WatchView = {
      events: s.events,
      peerAddresses: () => s.peerViews().map((v) => v.rib.address),
      bestPaths: () => this.bestPaths(s),
      adjInPaths: (address, prefixes) => this.adjInPaths(s, address, prefixes).map((x) => x.path),
      peer: (address) => {
        const v = s.peerViews().find((x) => x.rib.address === address);
        if (!v) return undefined;
        const p = snapshotOf(v, s, buildOpen(v.session.fsm.config).capabilities);
        return { state: `${p.state}|${p.adminDown}`, message: peerToApi(p) };
      },
    };
    const unwatch = startWatch(req, view, (m) => {
      if (!stream.destroyed) stream.write(m);
    });
    const stop = (): void => {
      unwatch();
      if (this.watchers.delete(stop)) stream.end();
    };
    this.watchers.add(stop);
    stream.on('cancelled', stop);
    stream.on('close', stop);
    stream.on('error', stop);
  }

  /** The best path of every prefix, both families, keyed by prefix. */
  private bestPaths(s: Speaker): Map<string, ApiPath> {
    const out = new Map<string, ApiPath>();
    for (const fam of [4, 6] as const) for (const { prefix, path } of this.tablePaths(s, 'GLOBAL', '', fam)) if (path.best) out.set(`${prefix.address}/${prefix.length}`, path);
    return out;
  }

  /**
   * One peer's Adj-RIB-In paths for `prefixes` (withdrawals for those it no longer has), or all of
   * them: with ADD-PATH every path it sent, by path identifier, in the order they came (as gobgpd).
   */
  private adjInPaths(s: Speaker, address: string, prefixes: readonly Prefix[] | undefined): Array<{ prefix: Prefix; path: ApiPath }> {
    const v = s.peerViews().find((x) => x.rib.address === address);
    if (!v) return [];
    const src = { address: v.rib.address, asNumber: v.config.asNumber, routerId: v.rib.routerId, ebgp: v.rib.ebgp };
    // Paths from before the session came up (this server started later) date from it.
    const up = v.session.state === 'Established' ? v.session.since : this.started;
    const keys = prefixes ? prefixes.map((p) => `${p.address}/${p.length}`) : [...v.rib.adjIn.keys()];
    return keys.flatMap((k) => {
      const prefix = keyToPrefix(k);
      const p = v.rib.adjIn.get(k);
      if (!p) return [{ prefix, path: { ...pathToApi(prefix, { origin: 0, asPath: [] }, '', src, false, false, this.now()), pattrs: [], is_withdraw: true } as ApiPath }];
      const event = `${address}|${k}`;
      const several = v.rib.paths.get(k);
      const all: Array<[number, typeof p]> = several?.size ? [...several] : [[0, p]];
      return all.map(([id, x]) => ({ prefix, path: pathToApi(prefix, x.attrs, x.nextHop, src, false, !!x.stale, this.stampOf(event, id ? `${event}|${id}` : event, x, prefixes ? this.now() : up), id) }));
    });
  }
}

/** A stamp whose path object is not known yet. */
const CHANGED = {};

/**
 * A path object replaced by one with the same attributes and next hop (marked stale in a graceful
 * restart, refreshed unchanged after it): the same route, whose age goes on, as in gobgpd.
 */
function sameRoute(a: object, b: object): boolean {
  const x = a as Partial<PathInfo>;
  const y = b as Partial<PathInfo>;
  return x.attrs !== undefined && x.attrs === y.attrs && x.nextHop === y.nextHop;
}

/** The ADD-PATH identifier `path` came with (0: none, or not an ADD-PATH session). */
function pathIdOf(paths: ReadonlyMap<number, object> | undefined, path: object): number {
  if (paths) for (const [id, p] of paths) if (p === path) return id;
  return 0;
}

/** Groups a table's paths by prefix, keeping the order prefixes first appear in. */
function byPrefix<T extends { prefix: Prefix }>(paths: readonly T[]): T[][] {
  const by = new Map<string, T[]>();
  for (const p of paths) {
    const k = `${p.prefix.address}/${p.prefix.length}`;
    const list = by.get(k);
    if (list) list.push(p);
    else by.set(k, [p]);
  }
  return [...by.values()];
}

function str(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidArgument(`${field}: expected a string`);
  return v;
}

/**
 * Serves the API on `hosts` ([] = off) for a node or route reflector. An address that cannot be
 * bound is logged and skipped, not fatal: BGP itself does not depend on its management API.
 */
export async function startGobgpApi(opts: GobgpApiOptions & { hosts: readonly string[] }): Promise<GobgpApiServer | undefined> {
  if (!opts.hosts.length) return undefined;
  const api = new GobgpApiServer(opts);
  const bound: string[] = [];
  for (const h of opts.hosts) {
    try {
      bound.push(...(await api.listen([h])));
    } catch (e) {
      opts.log.warn({ err: e instanceof Error ? e.message : String(e), host: h }, 'cannot serve the GoBGP API there; the gobgp CLI will not reach this speaker on it');
    }
  }
  if (bound.length) {
    opts.log.info({ hosts: bound }, 'serving the GoBGP API (gobgp CLI)');
    return api;
  }
  await api.close();
  return undefined;
}
