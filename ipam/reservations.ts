// IPReservation as the allocator sees it (pure): the reserved ranges, asked per address or per block.
// Reservations bind only automatic assignment (Calico's rule): an address asked for by name
// (the ipAddrs annotation) may still be a reserved one.
import { parseNet } from '../datastore/model/net.js';
import { type Cidr, contains, parseCidr, size } from './cidr.js';
import type { AllocationBlock } from './model.js';

export interface Reservations {
  /** True when every address of the block is reserved: such a block is not worth claiming. */
  coversBlock(block: Cidr): boolean;
  /** The ordinals of a block that automatic assignment must skip. */
  reservedOrdinals(block: AllocationBlock): ReadonlySet<number>;
}

/** One resource's `spec.reservedCIDRs`; malformed entries are skipped (the model refuses them on write). */
export function reservationsFrom(specs: readonly { reservedCIDRs?: readonly string[] }[]): Reservations {
  const ranges: Cidr[] = [];
  for (const spec of specs) {
    for (const text of spec.reservedCIDRs ?? []) {
      const n = parseNet(text);
      if (n) ranges.push(parseCidr(n.network));
    }
  }
  return {
    // A reserved range covers the block when it is the same size or larger and holds its base.
    coversBlock: (block) => ranges.some((r) => r.prefix <= block.prefix && contains(r, block.family, block.base)),
    reservedOrdinals: (b) => {
      const c = parseCidr(b.cidr);
      const out = new Set<number>();
      if (ranges.length === 0) return out;
      const n = size(c);
      for (const r of ranges) {
        if (r.family !== c.family) continue;
        // The overlap of the two ranges (both are aligned, so one contains the other or they are disjoint).
        const lo = r.base > c.base ? r.base : c.base;
        const rEnd = r.base + size(r);
        const cEnd = c.base + n;
        const hi = rEnd < cEnd ? rEnd : cEnd;
        for (let v = lo; v < hi; v++) out.add(Number(v - c.base));
      }
      return out;
    },
  };
}

export const NO_RESERVATIONS: Reservations = reservationsFrom([]);
