// Multipath (ECMP) selection over ranked paths, as BIRD's kernel protocol does with `merge paths
// on` (Calico's default) and as common BGP multipath does: learned paths equal to the best through
// every step of the decision process before the router-id tie-break (LOCAL_PREF, AS_PATH length,
// ORIGIN, MED, eBGP/iBGP) are installed together, one next hop each. Export is untouched: peers
// still get the one best path.
import { comparePaths, LOCAL_SOURCE, type DecisionReason, type PathInfo } from './bestpath.js';

/** Decision steps after which two paths count as equal for forwarding. */
const TIE_BREAKS: ReadonlySet<DecisionReason> = new Set<DecisionReason>(['router-id', 'cluster-list-length', 'peer-address', 'equal']);

/** Whether `p` may share forwarding with the best path `best`. */
export function multipathEqual(best: PathInfo, p: PathInfo): boolean {
  return best.source !== LOCAL_SOURCE && p.source !== LOCAL_SOURCE && TIE_BREAKS.has(comparePaths(best, p).reason);
}

/**
 * The next hops to install for ranked candidates (best first): the best path's, then those of every
 * path equal to it for forwarding, each next hop once. Undefined when only one next hop results
 * (the common case, and every originated route).
 */
export function multipathNextHops(ranked: readonly PathInfo[]): string[] | undefined {
  const best = ranked[0];
  if (!best || ranked.length < 2 || best.source === LOCAL_SOURCE) return undefined;
  const hops = [best.nextHop];
  for (let i = 1; i < ranked.length; i++) {
    const p = ranked[i];
    // Every candidate is checked: MED makes the ranking non-transitive, so a later one may still tie.
    if (!p || !multipathEqual(best, p)) continue;
    if (!hops.includes(p.nextHop)) hops.push(p.nextHop);
  }
  return hops.length > 1 ? hops : undefined;
}
