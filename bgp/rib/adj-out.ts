// Exports for the Adj-RIB-Out: what an update group (or a syncing peer) advertises for each Loc-RIB
// path, computed once per shared path and policy and cached, and shared as one object (OutAttr)
// wherever the exported attributes are equal — so the encoder can reuse frames by identity.
import type { RouteGroup } from '../codec/index.js';
import type { CodecContext, NlriPrefix } from '../codec/types.js';
import type { PathAttributes } from '../types.js';
import { WeakTable, attrKey } from './attrs.js';
import { LOCAL_SOURCE } from './bestpath.js';
import { exportRoute } from './export.js';
import type { Path } from './path.js';
import type { ExportFilter, PeerRib } from './peer.js';

/** One exported attribute set (attrs + IPv6 next hop): a group's Adj-RIB-Out holds its id. */
export interface OutAttr {
  readonly id: number;
  readonly attrs: PathAttributes;
  readonly v6NextHop?: string;
  /**
   * Set on the per-address stand-in of a path whose export depends on our session address (see
   * OutGroup): the group's adjOut holds its id, meaning "each member holds this path as exported
   * with its own address" (or nothing, where that export is empty).
   */
  readonly perAddress?: Path;
}

/** The group-wide export inputs (everything exportRoute reads about the target). */
export interface OutPolicy {
  address: string;
  ebgp: boolean;
  rrClient: boolean;
  selfAddress: string | undefined;
  keepOriginalNextHop?: boolean;
  afis: number[];
  /** Applied per prefix after the (per path) export: paths are shared across prefixes. */
  exportFilter?: ExportFilter;
}

/** What routeFor reads: the export inputs and a cache of exports per Loc-RIB path. */
export interface Exporter {
  policy: OutPolicy;
  cache: WeakMap<Path, OutAttr | null>;
  /**
   * For iBGP policies: the cache shared by every exporter whose policy differs only in our
   * session address, for paths whose export does not use it (all but our own routes, which get
   * next-hop-self): each syncing peer's own exporter, and groups that differ in codec context.
   */
  shared?: WeakMap<Path, OutAttr | null>;
  /** iBGP groups: our own routes map to their per-address stand-in (OutAttr.perAddress). */
  perAddress?: boolean;
  lastBest?: Path;
  lastOut?: OutAttr | null;
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
export interface OutGroup extends Exporter {
  key: string;
  members: Set<PeerRib>;
  /** Position in the change log up to which this group has exported (its pending set is the rest). */
  cursor: number;
  /** Its codec context as text (the encoder's cache key). */
  ctxKey: string;
  adjOut: Int32Array;
  /**
   * Per walk range (`chunk` slots of adjOut, see UpdateGroups.syncBatch): bumped whenever adjOut
   * changes in it. A sync batch that is one whole range is then the same while its version
   * stands, and the speaker encodes it once for every member that syncs meanwhile.
   */
  versions: Uint32Array;
  /** Prefixes advertised (non-zero adjOut slots). */
  count: number;
  /** groupChanged was emitted and no batch has been taken since (the speaker has it scheduled). */
  owed?: boolean;
  ctx: CodecContext;
  /** Exporters of our own routes per member address (a cache: rebuilt when it outgrows the members). */
  bySelf: Map<string, Exporter>;
  /**
   * ADD-PATH send (RFC 7911) negotiated for these families: their prefixes go as every path, each
   * under its identifier (PathIds), and their Adj-RIB-Out is `paths` (prefix key → identifier →
   * export), not `adjOut`. Members that did not negotiate it are in other groups (the codec
   * context is part of the group key) and get the best path only.
   */
  addPathFamilies?: ReadonlySet<4 | 6>;
  paths?: Map<string, ReadonlyMap<number, OutAttr>>;
}

/** Announcements of one batch, by exported attribute set: the packing input. */
export class Announcements {
  readonly byOut = new Map<OutAttr, RouteGroup>();
  private last?: OutAttr;
  private lastGroup?: RouteGroup;
  size = 0;

  add(out: OutAttr, prefix: NlriPrefix): void {
    let g = out === this.last ? this.lastGroup : this.byOut.get(out);
    if (!g) this.byOut.set(out, (g = { attributes: out.attrs, prefixes: [], ...(out.v6NextHop !== undefined ? { nextHops: [out.v6NextHop] } : {}) }));
    this.last = out;
    this.lastGroup = g;
    g.prefixes.push(prefix);
    this.size++;
  }
}

export interface ExportConfig {
  asNumber: number;
  clusterId: string;
}

/** Exports of Loc-RIB paths per policy, cached per shared path object. */
export class Exports {
  /** We have route-reflector clients: iBGP routes are reflected (RFC 4456). */
  reflector = false;
  private readonly outTable = new WeakTable<OutAttr>();
  private nextOutId = 1;
  private readonly sharedCaches = new Map<string, WeakMap<Path, OutAttr | null>>();
  /** The per-address stand-in of each of our own paths (see OutAttr.perAddress). */
  private readonly perAddressOut = new WeakMap<Path, OutAttr>();
  /** Every live export by id (see byId). */
  private readonly ids = new Map<number, WeakRef<OutAttr>>();
  private readonly idsGone = new FinalizationRegistry<number>((id) => this.ids.delete(id));

  constructor(
    private readonly config: ExportConfig,
    /** The Loc-RIB: prefix key → best path. */
    private readonly bestOf: (k: string) => Path | undefined,
  ) {}

  /** Exports depend on the reflector role: a change voids every cached one. */
  setReflector(on: boolean, exporters: Iterable<OutGroup>): void {
    if (on === this.reflector) return;
    this.reflector = on;
    this.sharedCaches.clear();
    for (const g of exporters) {
      g.cache = new WeakMap();
      g.shared = this.sharedCacheOf(g.policy);
      g.lastBest = undefined;
      g.bySelf.clear();
    }
  }

  /** A syncing peer's own exporter (the shared cache too: peers joining one after another export each reflected path once). */
  exporterOf(policy: OutPolicy): Exporter {
    return { policy, cache: new WeakMap(), shared: this.sharedCacheOf(policy) };
  }

  /**
   * What the exporter's peers get for prefix k, or undefined (nothing / withdraw). Exports depend
   * only on the shared path object and the policy, so each is computed once per path and cached.
   */
  routeFor(ex: Exporter, k: string): OutAttr | undefined {
    return this.routeOf(ex, k, this.bestOf(k));
  }

  /** routeFor with k's best path b (undefined: none) already looked up. */
  routeOf(ex: Exporter, k: string, b: Path | undefined): OutAttr | undefined {
    if (!b) return undefined;
    if (ex.policy.exportFilter && !ex.policy.exportFilter.accepts(k, b.source !== LOCAL_SOURCE)) return undefined;
    return this.pathExport(ex, b);
  }

  /** ADD-PATH send: the export of each of prefix k's paths (identifier → export; a path that does not export is left out). */
  pathsFor(ex: Exporter, k: string, paths: ReadonlyArray<readonly [number, Path]>): Map<number, OutAttr> {
    const out = new Map<number, OutAttr>();
    for (const [id, b] of paths) {
      if (ex.policy.exportFilter && !ex.policy.exportFilter.accepts(k, b.source !== LOCAL_SOURCE)) continue;
      const r = this.pathExport(ex, b);
      if (r) out.set(id, r);
    }
    return out;
  }

  /** The export of path b to the exporter's peers (no per-prefix filter), cached per path. */
  pathExport(ex: Exporter, b: Path): OutAttr | undefined {
    // Consecutive prefixes mostly share a path: a one-entry cache in front of the WeakMap.
    if (b === ex.lastBest) return ex.lastOut ?? undefined;
    const cache = ex.shared && b.source !== LOCAL_SOURCE ? ex.shared : ex.cache;
    let out = cache.get(b);
    if (out === undefined) {
      out = (ex.perAddress && b.source === LOCAL_SOURCE ? this.perAddressOf(ex.policy, b) : this.exportOf(ex.policy, b)) ?? null;
      cache.set(b, out);
    }
    ex.lastBest = b;
    ex.lastOut = out;
    return out ?? undefined;
  }

  /**
   * The live export with this id (a group's Adj-RIB-Out entry), or undefined when it is gone:
   * then no path exports to it any more, and the group still owes its members that prefix.
   */
  byId(id: number): OutAttr | undefined {
    return id ? this.ids.get(id)?.deref() : undefined;
  }

  /** See Exporter.shared: undefined for eBGP policies (their exports use our address). */
  sharedCacheOf(pol: OutPolicy): WeakMap<Path, OutAttr | null> | undefined {
    if (pol.ebgp) return undefined;
    const key = JSON.stringify([pol.rrClient, !!pol.keepOriginalNextHop, pol.afis]);
    let c = this.sharedCaches.get(key);
    if (!c) this.sharedCaches.set(key, (c = new WeakMap()));
    return c;
  }

  /** The per-address stand-in of our own path b (see OutAttr.perAddress); none for a family the group does not carry. */
  private perAddressOf(pol: OutPolicy, b: Path): OutAttr | undefined {
    if (!pol.afis.includes(b.family === 4 ? 1 : 2)) return undefined;
    let out = this.perAddressOut.get(b);
    if (!out) this.perAddressOut.set(b, (out = this.numbered({ id: this.nextOutId++, attrs: b.attrs, perAddress: b })));
    return out;
  }

  private exportOf(pol: OutPolicy, b: Path): OutAttr | undefined {
    const family = b.family;
    if (!pol.afis.includes(family === 4 ? 1 : 2)) return undefined;
    const e = exportRoute(b, family, {
      address: pol.address,
      ebgp: pol.ebgp,
      rrClient: pol.rrClient,
      localAs: this.config.asNumber,
      clusterId: this.config.clusterId,
      reflector: this.reflector,
      selfAddress: pol.selfAddress,
      keepOriginalNextHop: pol.keepOriginalNextHop,
      splitHorizon: pol.ebgp,
    });
    if (!e) return undefined;
    const v6 = family === 6;
    const attrs: PathAttributes = v6 ? { ...e.attrs, nextHop: undefined } : { ...e.attrs, nextHop: e.nextHop };
    if (!v6 && attrs.nextHop === '') return undefined; // no usable next hop for this family on this session
    // Equal exports share one object (and id) across paths and groups: a best-path change that
    // exports the same attributes sends nothing.
    // attrKey, not JSON.stringify: a Buffer (unknown attribute) stringifies as an array of numbers.
    return this.outTable.get(attrKey(attrs, v6 ? e.nextHop : ''), () => this.numbered({ id: this.nextOutId++, attrs, ...(v6 ? { v6NextHop: e.nextHop } : {}) }));
  }

  private numbered(o: OutAttr): OutAttr {
    this.ids.set(o.id, new WeakRef(o));
    this.idsGone.register(o, o.id);
    return o;
  }
}
