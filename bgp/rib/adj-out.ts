// Adj-RIB-Out: what each peer has been told, and the diff to send after Loc-RIB changes. Peers of
// one update group (same outboundPolicyKey) share the export computation per change batch; the
// output attributes are interned, so "unchanged" is an identity check and packing can group
// prefixes by the interned entry.
import type { Prefix } from '../types.js';
import type { AttrTable, Interned } from './attrs.js';
import type { Path } from './bestpath.js';
import { exportPath, outboundPolicyKey, sendsTo, type ExportContext, type ExportTarget } from './export.js';
import { keyToPrefix, type LocRibChange } from './rib.js';

export interface OutDiff {
  /** Prefixes to announce, grouped by shared attribute set (one UPDATE stream per group). */
  announce: Map<Interned, Prefix[]>;
  withdraw: Prefix[];
}

export function emptyDiff(): OutDiff {
  return { announce: new Map(), withdraw: [] };
}

export function diffSize(d: OutDiff): number {
  let n = d.withdraw.length;
  for (const v of d.announce.values()) n += v.length;
  return n;
}

export class AdjRibOut {
  /** prefix key → interned export (attrs + next hop) as last sent. */
  readonly sent = new Map<string, Interned>();
  constructor(
    readonly peer: ExportTarget,
    private readonly table: AttrTable,
  ) {}

  get groupKey(): string {
    return outboundPolicyKey(this.peer);
  }

  /** Records what the group export means for this peer; returns what to send. */
  apply(entries: Iterable<[string, Path | undefined, Interned | undefined]>): OutDiff {
    const diff = emptyDiff();
    for (const [key, best, exported] of entries) {
      const want = best && exported && sendsTo(best, this.peer) ? exported : undefined;
      const had = this.sent.get(key);
      if (want === had) continue;
      if (want) {
        this.sent.set(key, this.table.retain(want));
        let list = diff.announce.get(want);
        if (!list) diff.announce.set(want, (list = []));
        list.push(keyToPrefix(key));
      } else {
        this.sent.delete(key);
        diff.withdraw.push(keyToPrefix(key));
      }
      if (had) this.table.release(had); // implicit withdraw of the old attributes
    }
    return diff;
  }

  /** Session down: forget everything (the peer forgets too). */
  clear(): void {
    for (const e of this.sent.values()) this.table.release(e);
    this.sent.clear();
  }
}

/**
 * Computes, per update group, the export of each changed prefix once, then applies it to every
 * member. Returns each peer's diff (by peer address).
 */
export function propagate(
  changes: readonly LocRibChange[],
  peers: readonly AdjRibOut[],
  table: AttrTable,
  ctx: ExportContext,
): Map<string, OutDiff> {
  const groups = new Map<string, AdjRibOut[]>();
  for (const p of peers) {
    const k = p.groupKey;
    const g = groups.get(k);
    if (g) g.push(p);
    else groups.set(k, [p]);
  }
  // Several changes to one prefix in a batch: only the last (the current best) matters, and each
  // prefix appears once in a diff.
  const last = new Map<string, LocRibChange>();
  for (const ch of changes) last.set(ch.key, ch);
  const out = new Map<string, OutDiff>();
  for (const members of groups.values()) {
    const rep = members[0].peer;
    const rows: Array<[string, Path | undefined, Interned | undefined]> = [];
    for (const ch of last.values()) {
      const e = ch.best ? exportPath(ch.best, ch.prefix, rep, ctx) : undefined;
      rows.push([ch.key, ch.best, e ? table.intern(e.attrs, e.nextHop) : undefined]);
    }
    for (const m of members) out.set(m.peer.address, m.apply(rows));
    for (const [, , e] of rows) if (e) table.release(e); // members retained what they keep
  }
  return out;
}

/** A peer that just came up gets the full table: every Loc-RIB best as a change. */
export function fullTable(entries: Iterable<[string, Path]>): LocRibChange[] {
  const out: LocRibChange[] = [];
  for (const [key, best] of entries) out.push({ key, prefix: keyToPrefix(key), best, previous: undefined });
  return out;
}
