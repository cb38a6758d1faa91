// A peer's BGPFilter import rules applied to an UPDATE, pure: rejected announcements become
// withdrawals (so a route the filter now rejects also leaves the table), the rest pass unchanged.
import type { UpdateMessage } from '../codec/types.js';
import type { Prefix } from '../types.js';
import { addressBytes, evaluateFilters, type NamedBgpFilter } from './filter.js';

export type ImportFilter = (u: UpdateMessage) => UpdateMessage;

function rejected(filters: readonly NamedBgpFilter[], p: Prefix): boolean {
  const bytes = addressBytes(p.address);
  if (!bytes) return false;
  return evaluateFilters(filters, 'import', { family: p.family, bytes, length: p.length, fromPeer: true })?.action === 'Reject';
}

/** The import filter of a peer, or undefined when its filters have no import rules. */
export function importFilter(filters: readonly NamedBgpFilter[] | undefined): ImportFilter | undefined {
  if (!filters?.some((f) => f.spec.importV4?.length || f.spec.importV6?.length)) return undefined;
  return (u) => {
    const drop = (ps: readonly Prefix[]): Prefix[] => ps.filter((p) => rejected(filters, p));
    const v4 = drop(u.nlri);
    const v6 = u.mpReach ? drop(u.mpReach.nlri) : [];
    if (!v4.length && !v6.length) return u;
    const keep = <P extends Prefix>(ps: P[], out: Prefix[]): P[] => ps.filter((p) => !out.includes(p));
    const out: UpdateMessage = { ...u, nlri: keep(u.nlri, v4), withdrawn: [...u.withdrawn, ...v4] };
    if (u.mpReach && v6.length) {
      out.mpReach = { ...u.mpReach, nlri: keep(u.mpReach.nlri, v6) };
      const un = u.mpUnreach ?? { afi: u.mpReach.afi, safi: u.mpReach.safi, withdrawn: [] };
      out.mpUnreach = { ...un, withdrawn: [...un.withdrawn, ...v6] };
    }
    return out;
  };
}
