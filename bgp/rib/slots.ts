// Prefix slots: the index of a prefix in every update group's Adj-RIB-Out array. A slot is held
// while the prefix is in the Loc-RIB, in some peer's Adj-RIB-In (holders) or advertised by some
// group (refs), then reused: 4 bytes per prefix per group instead of a map entry.

const grow = (a: Int32Array): Int32Array => {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
};

export class PrefixSlots {
  private readonly slotOf = new Map<string, number>();
  /** The prefix key of each slot ('' when free). */
  readonly keys: string[] = [];
  /** Per slot: groups advertising the prefix. */
  private refs: Int32Array = new Int32Array(1024);
  /** Per slot: peers holding the prefix in their Adj-RIB-In (1 = no other peer to look at). */
  private holders: Int32Array = new Int32Array(1024);
  private readonly free: number[] = [];

  /** @param selected whether a prefix is in the Loc-RIB (its slot is kept then). */
  constructor(private readonly selected: (k: string) => boolean) {}

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
    if (slot >= this.refs.length) {
      this.refs = grow(this.refs);
      this.holders = grow(this.holders);
    }
    this.refs[slot] = 0;
    this.holders[slot] = 0;
    return slot;
  }

  /** Holders of the prefix at this slot (from get; undefined: none). */
  holdersAt(slot: number | undefined): number {
    return slot === undefined ? 0 : this.holders[slot];
  }

  hold(k: string): void {
    this.holders[this.for(k)]++;
  }

  unhold(k: string): void {
    const slot = this.slotOf.get(k);
    if (slot === undefined) return;
    this.holders[slot]--;
    this.release(k, slot);
  }

  ref(slot: number): void {
    this.refs[slot]++;
  }

  unref(slot: number): void {
    this.refs[slot]--;
    this.release(this.keys[slot], slot);
  }

  /** Frees k's slot once nothing holds it: no group advertises it, no peer sent it, no best path. */
  release(k: string, slot: number): void {
    if (this.refs[slot] || this.holders[slot] || this.selected(k)) return;
    this.slotOf.delete(k);
    this.keys[slot] = '';
    this.free.push(slot);
  }
}
