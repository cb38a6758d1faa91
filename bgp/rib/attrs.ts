// Attribute interning, the one table of shared attribute objects: every route that carries
// structurally equal path attributes holds the same object, also across UPDATEs (a peer that sends
// one prefix per UPDATE would otherwise cost one attribute object graph per route). Entries are
// weak: an attribute set no route holds any more is collected with its last route, so the RIB
// needs no refcounting at its many drop sites (withdraw, implicit withdraw, session down, stale
// purge, peer removed). attrKey is the structural identity.
import { createHash } from 'node:crypto';
import type { PathAttributes } from '../types.js';

/** An unknown attribute value's bytes and how many live Buffers carry them (see valueId). */
interface ValueEntry {
  readonly id: number;
  readonly key: string;
  /** A copy of the bytes (not a pool slice, which would hold its whole pool slab). */
  readonly bytes: Buffer;
  live: number;
}
/** By digest (the bytes themselves when short); a bucket holds entries whose digests collide. */
const valuesByKey = new Map<string, ValueEntry[]>();
const valueIds = new WeakMap<Buffer, ValueEntry>();
const valuesGone = new FinalizationRegistry<ValueEntry>((e) => {
  if (--e.live > 0) return;
  const bucket = valuesByKey.get(e.key)?.filter((x) => x !== e);
  if (bucket?.length) valuesByKey.set(e.key, bucket);
  else valuesByKey.delete(e.key);
});
let nextValueId = 1;
/** Values up to this size are looked up by their bytes as text, longer ones by SHA-1. */
const SHORT_VALUE = 64;

/**
 * A short id standing for an unknown attribute's bytes in keys. Exact: an id is found by digest
 * and then compared byte for byte, so equal ids mean equal bytes, and equal bytes get the same id
 * while any Buffer carrying them lives. The hex text it replaces made a key twice the attribute's
 * size (7.6 KB per attribute set for a 3.8 KB opaque attribute), built, escaped and hashed again
 * for every distinct set carrying it (about 25 us there, against about 10 us for the digest); a
 * Buffer already seen (the same value in a route's exported attributes) costs a WeakMap lookup.
 */
function valueId(v: Buffer): number {
  let e = valueIds.get(v);
  if (e) return e.id;
  const key = v.length <= SHORT_VALUE ? `s${v.toString('latin1')}` : `h${createHash('sha1').update(v).digest('base64')}`;
  const bucket = valuesByKey.get(key);
  e = bucket?.find((x) => x.bytes.equals(v));
  if (!e) {
    const bytes = Buffer.allocUnsafeSlow(v.length);
    v.copy(bytes);
    e = { id: nextValueId++, key, bytes, live: 0 };
    if (bucket) bucket.push(e);
    else valuesByKey.set(key, [e]);
  }
  e.live++;
  valuesGone.register(v, e);
  valueIds.set(v, e);
  return e.id;
}

/**
 * Canonical text: fixed field order, unknown attributes' values by content id, absent fields
 * omitted. Flat: V8 returns a long JSON.stringify result as a tree of pieces (about 100 bytes more
 * per key kept in a Map); joining it after a tag copies it into one string.
 */
export function attrKey(a: PathAttributes, nextHop: string): string {
  const parts: unknown[] = [
    nextHop,
    a.origin,
    a.asPath.map((s) => [s.type, s.asns]),
    a.nextHop ?? null,
    a.med ?? null,
    a.localPref ?? null,
    a.atomicAggregate ? 1 : 0,
    a.aggregator ? [a.aggregator.asn, a.aggregator.address] : null,
    a.communities ?? null,
    a.largeCommunities ?? null,
    a.extendedCommunities ?? null,
    a.originatorId ?? null,
    a.clusterList ?? null,
    a.unknown?.map((u) => [u.flags, u.type, valueId(u.value)]) ?? null,
  ];
  return ['a', JSON.stringify(parts)].join('');
}

export class AttrInterner {
  private readonly byKey = new Map<string, WeakRef<PathAttributes>>();
  /** Numeric identity of each shared object, for compact composite keys (never reused). */
  private readonly ids = new WeakMap<PathAttributes, number>();
  private nextId = 1;
  /** The codec hands one object to every prefix of an UPDATE: skip hashing for repeats. */
  private readonly seen = new WeakMap<PathAttributes, PathAttributes>();
  private readonly gone = new FinalizationRegistry<string>((key) => {
    if (!this.byKey.get(key)?.deref()) this.byKey.delete(key);
  });

  /** The shared object equal to `a` (callers treat attribute objects as immutable). */
  intern(a: PathAttributes): PathAttributes {
    const hit = this.seen.get(a);
    if (hit) return hit;
    const key = attrKey(a, '');
    const shared = this.byKey.get(key)?.deref();
    if (shared) {
      this.seen.set(a, shared);
      return shared;
    }
    this.byKey.set(key, new WeakRef(a));
    this.gone.register(a, key);
    this.seen.set(a, a);
    this.ids.set(a, this.nextId++);
    return a;
  }

  /** The id of a shared object `intern` returned (0 for an object it never returned). */
  id(a: PathAttributes): number {
    return this.ids.get(a) ?? 0;
  }

  /** Distinct attribute sets currently known (some may be awaiting collection). */
  get size(): number {
    return this.byKey.size;
  }
}

/**
 * Objects shared by a text key, held weakly: an entry lives as long as something else holds its
 * object (the same scheme as AttrInterner, for the RIB's per-path and per-export objects).
 */
export class WeakTable<T extends object> {
  private readonly byKey = new Map<string, WeakRef<T>>();
  private readonly gone = new FinalizationRegistry<string>((key) => {
    if (!this.byKey.get(key)?.deref()) this.byKey.delete(key);
  });

  /** The live object for `key`, or the one `make` builds (then shared under `key`). */
  get(key: string, make: () => T): T {
    const hit = this.byKey.get(key)?.deref();
    if (hit) return hit;
    const o = make();
    this.byKey.set(key, new WeakRef(o));
    this.gone.register(o, key);
    return o;
  }

  get size(): number {
    return this.byKey.size;
  }
}
