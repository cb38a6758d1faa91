// One peer's Adj-RIB-In, as a read-only map from prefix key to path. The paths themselves live in
// the prefix table by slot (PrefixSlots.put), one per peer and prefix: a lookup is one slot lookup,
// and a walk goes over every slot. Writes are the Rib's, which keeps `size`.
import type { Path } from './path.js';
import type { PrefixSlots } from './slots.js';

export class AdjRibIn implements ReadonlyMap<string, Path> {
  /** Prefixes the peer has a path for (kept by the Rib's writes). */
  size = 0;

  constructor(
    private readonly table: PrefixSlots,
    /** The peer's address: the source of its paths. */
    private readonly source: string,
  ) {}

  get(k: string): Path | undefined {
    return this.size ? this.table.pathFrom(this.table.get(k), this.source) : undefined;
  }

  has(k: string): boolean {
    return this.get(k) !== undefined;
  }

  *entries(): MapIterator<[string, Path]> {
    if (!this.size) return;
    for (const [k, r] of this.table.heldBy(this.source)) yield [k, r];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<Path> {
    for (const [, r] of this.entries()) yield r;
  }

  [Symbol.iterator](): MapIterator<[string, Path]> {
    return this.entries();
  }

  forEach(f: (r: Path, k: string, m: ReadonlyMap<string, Path>) => void): void {
    for (const [k, r] of this.entries()) f(r, k, this);
  }
}
