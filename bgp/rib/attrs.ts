// Attribute interning: structurally equal (attributes + next hop) share one frozen object, so a
// million routes that carry a handful of attribute sets cost a handful of objects. Refcounted:
// the entry is dropped when the last route holding it goes away.
import { createHash } from 'node:crypto';
import type { PathAttributes } from '../types.js';

export interface Interned {
  /** Stable for the entry's lifetime; usable as a map key / update-group packing key. */
  readonly id: number;
  /** Canonical text of attrs + next hop (the structural identity). */
  readonly key: string;
  readonly attrs: Readonly<PathAttributes>;
  readonly nextHop: string;
  /** Routes holding this entry. */
  refs: number;
}

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
    a.originatorId ?? null,
    a.clusterList ?? null,
    a.unknown?.map((u) => [u.flags, u.type, valueId(u.value)]) ?? null,
  ];
  return ['a', JSON.stringify(parts)].join('');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

function clone(a: PathAttributes): PathAttributes {
  // Copy so later mutation of the caller's object cannot change a shared entry.
  return {
    ...a,
    asPath: a.asPath.map((s) => ({ type: s.type, asns: [...s.asns] })),
    ...(a.aggregator ? { aggregator: { ...a.aggregator } } : {}),
    ...(a.communities ? { communities: [...a.communities] } : {}),
    ...(a.largeCommunities ? { largeCommunities: a.largeCommunities.map((l) => [l[0], l[1], l[2]] as [number, number, number]) } : {}),
    ...(a.clusterList ? { clusterList: [...a.clusterList] } : {}),
    ...(a.unknown ? { unknown: a.unknown.map((u) => ({ flags: u.flags, type: u.type, value: Buffer.from(u.value) })) } : {}),
  };
}

export class AttrTable {
  private readonly byKey = new Map<string, Interned>();
  private nextId = 1;
  /**
   * Identity cache: the codec hands one attributes object to every prefix of an UPDATE, so the
   * same object arrives thousands of times in a row. Callers treat attribute objects they pass
   * in as immutable (as the codec's are); a changed object must be a new object.
   */
  private readonly seen = new WeakMap<PathAttributes, Interned>();

  /** Returns the shared entry for (attrs, nextHop) with one more reference. */
  intern(attrs: PathAttributes, nextHop: string): Interned {
    const hit = this.seen.get(attrs);
    if (hit && hit.nextHop === nextHop && hit.refs > 0) {
      hit.refs++;
      return hit;
    }
    const key = attrKey(attrs, nextHop);
    let e = this.byKey.get(key);
    if (!e) {
      e = { id: this.nextId++, key, attrs: deepFreeze(clone(attrs)), nextHop, refs: 0 };
      this.byKey.set(key, e);
    }
    e.refs++;
    this.seen.set(attrs, e);
    return e;
  }

  /** Another reference to an entry already held (no hashing). */
  retain(e: Interned): Interned {
    e.refs++;
    return e;
  }

  release(e: Interned): void {
    if (--e.refs <= 0) this.byKey.delete(e.key);
  }

  get size(): number {
    return this.byKey.size;
  }
}
