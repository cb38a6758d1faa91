// The speaker's encoding of what the RIB decided: UPDATE frames per batch, with the caches that
// make a reflector cheap — single-prefix attribute sets encoded once per codec context (the
// Kubernetes shape: one block per node), and whole batches shared by groups that decide alike.
import type { Logger } from 'pino';
import { packUpdates, type RouteGroup } from '../codec/index.js';
import type { CodecContext } from '../codec/types.js';
import type { Announcements, GroupBatch, OutAttr, OutGroup } from '../rib/index.js';
import { keyOf, pathKey } from '../rib/index.js';
import type { Prefix } from '../types.js';

/** Encoded frames of one batch, by part (withdrawals, then one part per attribute set). */
export interface PackedBatch {
  all: Buffer;
  /** Announcements carry their ORIGINATOR_ID and prefixes (see framesFor). */
  parts: Array<{ originatorId?: string; prefixes?: Prefix[]; frames: Buffer }>;
}

const EMPTY = Buffer.alloc(0);

/** One attribute set's encoded UPDATE for one prefix and codec context (see framesOf). */
export interface CachedFrames {
  ctxKey: string;
  prefix: string;
  frames: Buffer;
}

/** Entries per generation of the frame cache: one route per node of a cluster of this many nodes. */
const FRAME_CACHE_MAX = 8192;

/** Encoded walk ranges are dropped once no sync has used one for this long (they hold a copy of the table's UPDATEs). */
export const WALK_MEMO_IDLE_MS = 5000;

export class Encoder {
  /** Group batches whose frames came from packMemo. */
  packReuses = 0;
  /**
   * Encoded batches by (codec context, change-log range): groups that differ in something the
   * change range does not touch (e.g. one per eBGP peer of an AS that none of these routes
   * came from) export the same changes the same way; the first encodes, the others reuse its
   * frames when their decisions match.
   * Log positions are never reused, so an entry stays valid; it is dropped once every group has
   * passed its range (trim): held longer, the memo kept the encoded frames of the last 256
   * batches (up to a million routes' UPDATEs when every route has its own attributes).
   */
  private readonly packMemo = new Map<string, { decisions: number[]; frames: PackedBatch; end: number }>();
  /**
   * Encoded UPDATEs of single-prefix attribute sets (see framesOf), in two generations of at most
   * FRAME_CACHE_MAX entries: a hit in the old one moves to the new one, and a full new one
   * replaces the old. Unbounded (a WeakMap living as long as the routes), it cost about 700 bytes
   * per route of a table whose routes mostly carry attributes of their own (distinct MED,
   * communities, AS paths); bounded, the Kubernetes shape (one route per node) still fits.
   */
  private frameCache = new Map<OutAttr, CachedFrames>();
  private frameCacheOld = new Map<OutAttr, CachedFrames>();

  /** Sync batches whose frames came from walkMemo. */
  walkReuses = 0;
  /**
   * Encoded walk ranges of each group's table (SyncBatch.walk), by codec context and range, with
   * the range's version: members that join while a table fills (clients whose sessions come up
   * one after another) each sync most of it, and would each encode it.
   */
  private walkMemo = new WeakMap<OutGroup, Map<string, { version: number; frames: PackedBatch }>>();
  private walkUsed = 0;
  private walkExpiry: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  /** A walk range's frames: reused while its version stands, else made (and kept) now. */
  walkFrames(g: OutGroup, ctxKey: string, walk: { range: number; version: number }, make: () => PackedBatch): PackedBatch {
    let memo = this.walkMemo.get(g);
    if (!memo) this.walkMemo.set(g, (memo = new Map()));
    const key = `${ctxKey}|${walk.range}`;
    this.walkUsed = Date.now();
    this.armWalkExpiry();
    const hit = memo.get(key);
    if (hit && hit.version === walk.version) {
      this.walkReuses++;
      return hit.frames;
    }
    const made = make();
    // Kept without the parts' prefixes (a parsed prefix per route of the table): each member's
    // own routes come from its batch instead (framesFor's `own`).
    const frames = { all: made.all, parts: made.parts.map((x) => ({ originatorId: x.originatorId, frames: x.frames })) };
    memo.set(key, { version: walk.version, frames });
    return frames;
  }

  private armWalkExpiry(): void {
    if (this.walkExpiry) return;
    this.walkExpiry = setTimeout(() => {
      this.walkExpiry = undefined;
      if (Date.now() - this.walkUsed >= WALK_MEMO_IDLE_MS) this.walkMemo = new WeakMap();
      else this.armWalkExpiry();
    }, WALK_MEMO_IDLE_MS);
    this.walkExpiry.unref();
  }

  /** A group batch's shared frames (reused from a group that decided the same). */
  groupFrames(g: OutGroup, b: GroupBatch): PackedBatch {
    const memoKey = `${g.ctxKey}|${b.start}|${b.end}`;
    const memo = this.packMemo.get(memoKey);
    if (memo && memo.decisions.length === b.decisions.length && memo.decisions.every((d, j) => d === b.decisions[j])) {
      this.packReuses++;
      return memo.frames;
    }
    const frames = this.pack(b.routes, b.withdrawals, g.ctx, g.ctxKey, g.key);
    if (this.packMemo.size >= 256) this.packMemo.clear();
    this.packMemo.set(memoKey, { decisions: b.decisions, frames, end: b.end });
    return frames;
  }

  /** Every group has exported the change log up to `min`: older batches are not shared any more. */
  trim(min: number): void {
    for (const [k, m] of this.packMemo) if (m.end <= min) this.packMemo.delete(k);
  }

  /**
   * Packs announcements (grouped by shared attributes) and withdrawals into UPDATE frames, each
   * attribute set's frames tagged with its ORIGINATOR_ID: a member never gets frames carrying its
   * own router id as ORIGINATOR_ID (it would drop them, RFC 4456 §8), which is split horizon for
   * reflected routes without a per-member encoding. Each part is one Buffer (and `all` their
   * concatenation): one socket write per member per batch, not one per UPDATE.
   */
  pack(routes: Announcements, withdrawals: Prefix[], ctx: CodecContext, ctxKey: string, who: string): PackedBatch {
    const parts: PackedBatch['parts'] = [];
    try {
      if (withdrawals.length) parts.push({ frames: Buffer.concat(packUpdates([], withdrawals, ctx)) });
      for (const [out, g] of routes.byOut) parts.push({ originatorId: g.attributes.originatorId, prefixes: g.prefixes, frames: this.framesOf(out, g, ctx, ctxKey) });
    } catch (err) {
      this.log.error({ err, peer: who }, 'cannot encode UPDATE');
      return { all: EMPTY, parts: [] };
    }
    return { all: parts.length === 1 ? parts[0].frames : Buffer.concat(parts.map((x) => x.frames)), parts };
  }

  /** The cached UPDATE of a single-prefix export, when it is for this prefix (and path identifier: pathKey) and codec context. */
  cached(out: OutAttr, ctxKey: string, prefixKey: string): Buffer | undefined {
    const hit = this.cachedEntry(out, ctxKey);
    return hit && hit.prefix === prefixKey ? hit.frames : undefined;
  }

  /** The cached UPDATE of a single-prefix export in this codec context, whichever prefix it is for (the caller compares). */
  cachedEntry(out: OutAttr, ctxKey: string): CachedFrames | undefined {
    const hit = this.cachedFrames(out);
    return hit && hit.ctxKey === ctxKey ? hit : undefined;
  }

  /**
   * The UPDATEs of one attribute set. A set carried by a single prefix (the Kubernetes shape: one
   * block per node, each with its own next hop) is encoded once per codec context and reused: by
   * every later initial sync, and by every group batch that sends it again.
   */
  private framesOf(out: OutAttr, g: RouteGroup, ctx: CodecContext, ctxKey: string): Buffer {
    if (g.prefixes.length !== 1) return Buffer.concat(packUpdates([g], [], ctx));
    const pk = pathKey(keyOf(g.prefixes[0]), g.prefixes[0].pathId);
    const hit = this.cached(out, ctxKey, pk);
    if (hit) return hit;
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
}

/** framesFor's default: the peer may hold anything (a syncing peer's queue is not checked against a group's). */
const MAY_HOLD_ANY = (): boolean => true;

/**
 * The bytes of a batch for one peer: all of them, or, for routes it originated (its router id as
 * ORIGINATOR_ID), withdrawals instead: it would drop such routes (RFC 4456 §8) and so withdraw
 * whatever it held for those prefixes from us before; sent as withdrawals, they do just that.
 * `mayHold` says which of those it can hold something for: a prefix new to its group it does
 * not, and gets nothing (a client announcing its table gets no withdrawal per route back).
 */
export function framesFor(b: PackedBatch, routerId: string, ctx: CodecContext, mayHold: (p: Prefix) => boolean = MAY_HOLD_ANY, own?: () => Prefix[]): Buffer[] {
  if (!routerId || !b.parts.some((x) => x.originatorId === routerId)) return b.all.length ? [b.all] : [];
  const out: Buffer[] = [];
  // `own`: its routes, from the caller, where the parts keep no prefixes (a walk range's frames, kept for other members).
  const back: Prefix[] = own ? own().filter(mayHold) : [];
  for (const x of b.parts) {
    if (x.originatorId !== routerId) out.push(x.frames);
    else if (!own) for (const p of x.prefixes ?? []) if (mayHold(p)) back.push(p);
  }
  if (back.length) out.push(Buffer.concat(packUpdates([], back, ctx)));
  return out;
}
