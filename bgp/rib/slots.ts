// Prefix slots: one number per prefix, the index of its entry in every per-prefix array — the
// Loc-RIB's best path here, and each update group's Adj-RIB-Out (4 bytes per prefix per group
// instead of a map entry). A slot is held while the prefix has a best path, is in some peer's
// Adj-RIB-In (holders) or is advertised by some group (refs), then reused. One string-keyed
// lookup finds the slot; everything after it is an array access.
import type { Path } from './peer.js';

const grow = (a: Int32Array): Int32Array => {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
};

export class PrefixSlots {
  private readonly slotOf = new Map<string, number>();
  /** The prefix key of each slot ('' when free). */
  readonly keys: string[] = [];
  /** The Loc-RIB: each slot's best path (undefined: none). */
  private readonly best: Array<Path | undefined> = [];
  /** Prefixes with a best path. */
  private bestCount = 0;
  /** Per slot: groups advertising the prefix. */
  private refs: Int32Array = new Int32Array(1024);
  /** Per slot: peers holding the prefix in their Adj-RIB-In (1 = no other peer to look at). */
  private holders: Int32Array = new Int32Array(1024);
  private readonly free: number[] = [];

  get(k: string): number | undefined {
    return this.slotOf.get(k);
  }

  /** Slots ever allocated (the length an Adj-RIB-Out array needs). */
  get size(): number {
    return this.keys.length;
  }

  /** The slot of prefix k, allocated when it has none. */
  for(k: string): number {
    let slot = this.slotOf.get(k);
    if (slot !== undefined) return slot;
    slot = this.free.pop() ?? this.keys.length;
    this.slotOf.set(k, slot);
    this.keys[slot] = k;
    this.best[slot] = undefined;
    if (slot >= this.refs.length) {
      this.refs = grow(this.refs);
      this.holders = grow(this.holders);
    }
    this.refs[slot] = 0;
    this.holders[slot] = 0;
    return slot;
  }

  /**
   * The slot a change recorded as (k, slot) has now: slot itself while it still holds k (the
   * usual case, no lookup), else a lookup (it was freed, and maybe reused, meanwhile; -1: unknown).
   */
  current(k: string, slot: number): number | undefined {
    return slot >= 0 && this.keys[slot] === k ? slot : this.slotOf.get(k);
  }

  // ---- the Loc-RIB

  /** Prefixes in the Loc-RIB. */
  get selectedCount(): number {
    return this.bestCount;
  }

  bestAt(slot: number | undefined): Path | undefined {
    return slot === undefined ? undefined : this.best[slot];
  }

  bestOf(k: string): Path | undefined {
    return this.bestAt(this.slotOf.get(k));
  }

  /** Sets the slot's best path (undefined: none, and the slot is freed if nothing else holds it). */
  setBest(slot: number, b: Path | undefined): void {
    const had = this.best[slot];
    this.best[slot] = b;
    if (!had !== !b) this.bestCount += b ? 1 : -1;
    if (!b) this.release(slot);
  }

  /** The Loc-RIB's entries: prefix key, best path and slot. */
  *selected(): IterableIterator<[string, Path, number]> {
    for (let slot = 0; slot < this.keys.length; slot++) {
      const b = this.best[slot];
      if (b) yield [this.keys[slot], b, slot];
    }
  }

  // ---- what holds a slot

  /** Holders of the prefix at this slot (undefined: none). */
  holdersAt(slot: number | undefined): number {
    return slot === undefined ? 0 : this.holders[slot];
  }

  /** One more peer holds the prefix at this slot (from for). */
  hold(slot: number): void {
    this.holders[slot]++;
  }

  /** A peer no longer holds prefix k; its slot, or undefined when it had none. */
  unhold(k: string): number | undefined {
    const slot = this.slotOf.get(k);
    if (slot === undefined) return undefined;
    this.holders[slot]--;
    this.release(slot);
    return slot;
  }

  ref(slot: number): void {
    this.refs[slot]++;
  }

  unref(slot: number): void {
    this.refs[slot]--;
    this.release(slot);
  }

  /** Frees the slot once nothing holds it: no group advertises it, no peer sent it, no best path. */
  private release(slot: number): void {
    if (this.refs[slot] || this.holders[slot] || this.best[slot]) return;
    const k = this.keys[slot];
    if (!k) return; // free already
    this.slotOf.delete(k);
    this.keys[slot] = '';
    this.free.push(slot);
  }
}
