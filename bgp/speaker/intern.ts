// Attribute interning for the running speaker: every route that carries structurally equal path
// attributes holds the same object, also across UPDATEs (a peer that sends one prefix per UPDATE
// would otherwise cost one attribute object graph per route). Entries are weak: an attribute set
// no route holds any more is collected with its last route, so the speaker needs no refcounting at
// its many drop sites (withdraw, implicit withdraw, session down, stale purge, peer removed).
import { attrKey } from '../rib/attrs.js';
import type { PathAttributes } from '../types.js';

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
 * object (the same scheme as AttrInterner, for the speaker's per-path and per-export objects).
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
