// A peer's BGPFilter export rules as the RIB's per-prefix export filter (pure).
import type { ExportFilter } from '../rib/index.js';
import { keyToPrefix } from '../rib/index.js';
import { addressBytes, evaluateFilters, type NamedBgpFilter } from './filter.js';

/** The export filter of a peer, or undefined when its filters have no export rules. */
export function exportFilter(filters: readonly NamedBgpFilter[] | undefined): ExportFilter | undefined {
  if (!filters?.some((f) => f.spec.exportV4?.length || f.spec.exportV6?.length)) return undefined;
  return {
    key: JSON.stringify(filters),
    accepts(k, fromPeer) {
      const p = keyToPrefix(k);
      const bytes = addressBytes(p.address);
      if (!bytes) return true;
      return evaluateFilters(filters, 'export', { family: p.family, bytes, length: p.length, fromPeer })?.action !== 'Reject';
    },
  };
}
