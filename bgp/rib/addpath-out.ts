// ADD-PATH (RFC 7911) on the sending side, as Calico's BIRD does with `add paths on`: to a peer that
// negotiated receive, every path of a prefix goes, each under an identifier of ours (§3: the
// identifier is the sender's to choose), so that several paths survive route reflection (two
// ToRs, or two clients, announcing one prefix: a client of the reflector gets both and can
// install both next hops). The groups (groups.ts) keep such members apart and hold these paths.
import type { CodecContext, NlriPrefix } from '../codec/types.js';
import type { Prefix } from '../types.js';
import type { OutAttr } from './adj-out.js';

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

/** The families a session sends every path of (ADD-PATH send negotiated), or undefined. */
export function addPathFamilies(ctx: CodecContext): ReadonlySet<4 | 6> | undefined {
  const fams = new Set<4 | 6>();
  for (const f of ctx.addPath ?? []) if (f.send && f.safi === 1 && (f.afi === 1 || f.afi === 2)) fams.add(f.afi === 1 ? 4 : 6);
  return fams.size ? fams : undefined;
}

/** What changes between the paths a group held for a prefix and those it must hold now. */
export function pathsOut(
  had: ReadonlyMap<number, OutAttr> | undefined,
  want: ReadonlyMap<number, OutAttr>,
  prefix: Prefix,
): { announce: Array<[OutAttr, NlriPrefix]>; withdraw: NlriPrefix[] } {
  const announce: Array<[OutAttr, NlriPrefix]> = [];
  const withdraw: NlriPrefix[] = [];
  for (const [id, out] of want) if (had?.get(id) !== out) announce.push([out, { ...prefix, pathId: id }]);
  if (had) for (const id of had.keys()) if (!want.has(id)) withdraw.push({ ...prefix, pathId: id });
  return { announce, withdraw };
}

/** Identifiers a peer may hold per prefix key (a Map's or a Set's keys). */
export type HeldPaths = Map<string, { keys(): IterableIterator<number>; has(id: number): boolean }>;

/**
 * A member leaves its group on a stall: it holds what the group holds, but for the batch it
 * missed (it holds what the group held before it). Merged with what it may still hold from an
 * earlier stall whose re-sync did not reach those prefixes: a superset is safe (withdrawing a
 * path identifier a peer does not have is a no-op), a subset would leave a stale path behind.
 */
export function snapshotHeld(
  before: HeldPaths | undefined,
  group: ReadonlyMap<string, ReadonlyMap<number, OutAttr>>,
  prev: ReadonlyMap<string, ReadonlyMap<number, OutAttr> | undefined> | undefined,
): HeldPaths {
  const held: HeldPaths = new Map(group);
  if (prev) {
    for (const [k, h] of prev) {
      if (h) held.set(k, h);
      else held.delete(k);
    }
  }
  if (before) {
    for (const [k, ids] of before) {
      const now = held.get(k);
      held.set(k, now ? new Set([...now.keys(), ...ids.keys()]) : ids);
    }
  }
  return held;
}
