// ADD-PATH (RFC 7911) on the receiving side: a peer may send several paths for one prefix, told
// apart by path identifier. The Adj-RIB-In keeps them per prefix key and identifier (PeerRib.paths);
// adjIn holds the best of them, so views that show one path per peer and prefix stay as they are,
// while selection sees every path (and multipath can merge them: paths reflected from two ToRs).
import { rankPaths } from './bestpath.js';
import type { Path, PeerRib } from './peer.js';

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

// ---- ADD-PATH on the sending side: to a peer that negotiated receive, every path of a prefix
// goes with an identifier of ours (RFC 7911 §3: the identifier is the sender's to choose).

/**
 * The identifiers we advertise paths under: one per path origin — a peer (and the identifier it
 * sent the path with, when it speaks ADD-PATH to us) or our own route — the same for every
 * prefix and for as long as the table lives, so a path keeps its identifier across updates and
 * its withdrawal names exactly it.
 */
export class PathIds {
  private readonly ids = new Map<string, number>();

  of(source: string, received: number | undefined): number {
    const key = received === undefined ? source : `${source}#${received}`;
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = this.ids.size + 1));
    return id;
  }
}

/** A prefix key with a path identifier: the frame caches' key for one path of a prefix. */
export const pathKey = (k: string, id: number | undefined): string => (id === undefined ? k : `${k}#${id}`);
