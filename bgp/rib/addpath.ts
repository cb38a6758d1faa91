// ADD-PATH (RFC 7911) on the receiving side: a peer may send several paths for one prefix, told
// apart by path identifier. The Adj-RIB-In keeps them per prefix key and identifier (PeerRib.paths);
// adjIn holds the best of them, so views that show one path per peer and prefix stay as they are,
// while selection sees every path (and multipath can merge them: paths reflected from two ToRs).
import { rankPaths } from './bestpath.js';
import type { Path } from './path.js';
import type { PeerRib } from './peer.js';

/** Adds or replaces path `id`; returns the peer's best path for k. */
export function putPath(p: PeerRib, k: string, id: number, path: Path): Path {
  let set = p.paths.get(k);
  if (!set) p.paths.set(k, (set = new Map()));
  set.set(id, path);
  return bestOf(set);
}

/** Removes path `id` (all paths when id is undefined); returns the peer's best path left, if any. */
export function dropPath(p: PeerRib, k: string, id: number | undefined): Path | undefined {
  const set = p.paths.get(k);
  if (!set) return undefined;
  if (id === undefined) set.clear();
  else set.delete(id);
  if (set.size) return bestOf(set);
  p.paths.delete(k);
  return undefined;
}

/** Replaces each of the peer's paths for k by f(path) (undefined: dropped); returns its best left. */
export function mapPaths(p: PeerRib, k: string, f: (r: Path) => Path | undefined): Path | undefined {
  const set = p.paths.get(k);
  if (!set) return undefined;
  for (const [id, r] of set) {
    const n = f(r);
    if (n) set.set(id, n);
    else set.delete(id);
  }
  if (set.size) return bestOf(set);
  p.paths.delete(k);
  return undefined;
}

function bestOf(set: ReadonlyMap<number, Path>): Path {
  const all = [...set.values()];
  return (all.length === 1 ? all[0] : rankPaths(all)[0]) as Path;
}

