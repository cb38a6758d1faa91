// Attribute interning for the running speaker: every route that carries structurally equal path
// attributes holds the same object, also across UPDATEs (a peer that sends one prefix per UPDATE
// would otherwise cost one attribute object graph per route). Entries are weak: an attribute set
// no route holds any more is collected with its last route, so the speaker needs no refcounting at
// its many drop sites (withdraw, implicit withdraw, session down, stale purge, peer removed).
import { attrKey } from '../rib/attrs.js';
import type { PathAttributes } from '../types.js';

export class AttrInterner {
  private readonly byKey = new Map<string, WeakRef<PathAttributes>>();
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
    return a;
  }

  /** Distinct attribute sets currently known (some may be awaiting collection). */
  get size(): number {
    return this.byKey.size;
  }
}
