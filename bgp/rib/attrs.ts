// Attribute interning: structurally equal (attributes + next hop) share one frozen object, so a
// million routes that carry a handful of attribute sets cost a handful of objects. Refcounted:
// the entry is dropped when the last route holding it goes away.
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

/** Canonical text: fixed field order, Buffers as hex, absent fields omitted. */
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
    a.unknown?.map((u) => [u.flags, u.type, u.value.toString('hex')]) ?? null,
  ];
  return JSON.stringify(parts);
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
