// Prefix slots: one number per prefix, the index of its entry in every per-prefix array — the
// paths peers sent for it (every Adj-RIB-In, held by prefix as BIRD's table holds routes by net),
// its best path (the Loc-RIB), and each update group's Adj-RIB-Out (4 bytes per prefix per group
// instead of a map entry). A slot is held while the prefix has a best path, a path from some peer
// or is advertised by some group (refs), then reused. One string-keyed lookup finds the slot;
// everything after it is an array access.
import type { Path } from './path.js';

const grow = <A extends Int32Array | Uint8Array>(a: A): A => {
  const b = new (a.constructor as new (n: number) => A)(a.length * 2);
  b.set(a);
  return b;
};

/** Slot states (PrefixSlots.state). */
const FREE = 1;
const LISTED = 2;

export class PrefixSlots {
  private readonly slotOf = new Map<string, number>();
  /** The prefix key of each slot (a freed slot keeps it until another prefix takes the slot). */
  readonly keys: string[] = [];
  /** The Loc-RIB: each slot's best path (undefined: none). */
  private readonly best: Array<Path | undefined> = [];
  /** Prefixes with a best path. */
  private bestCount = 0;
  /** Per slot: groups advertising the prefix. */
  private refs: Int32Array = new Int32Array(1024);
  /**
   * Per slot: the path each peer sent (its best one with ADD-PATH), told apart by Path.source —
   * one path alone (the usual case: no array), or one per peer. A slot per peer would cost every
   * peer an entry per prefix; a map per peer, a hash of the prefix key per change.
   */
  private readonly held: Array<Path | Path[] | undefined> = [];
  /**
   * Per slot: FREE (nothing holds it) and LISTED (it is in `free`). A freed slot keeps its key
   * and map entry until another prefix takes it: a prefix that comes back (a flap) gets its old
   * slot without a map delete and insert, and a withdrawal costs no delete at all.
   */
  private state: Uint8Array = new Uint8Array(1024);
  /** Slots to reuse, each at most once; one revived since it was listed is skipped. */
  private readonly free: number[] = [];

  get(k: string): number | undefined {
    const slot = this.slotOf.get(k);
    return slot === undefined || this.state[slot] & FREE ? undefined : slot;
  }

  /** Slots ever allocated (the length an Adj-RIB-Out array needs). */
  get size(): number {
    return this.keys.length;
  }

  /** The slot of prefix k, allocated when it has none. */
  for(k: string): number {
    let slot = this.slotOf.get(k);
    if (slot !== undefined) {
      this.state[slot] &= ~FREE; // its own slot back, empty as release left it
      return slot;
    }
    slot = this.reusable();
    if (slot === undefined) {
      slot = this.keys.length;
      if (slot >= this.refs.length) {
        this.refs = grow(this.refs);
        this.state = grow(this.state);
      }
    } else this.slotOf.delete(this.keys[slot]);
    this.slotOf.set(k, slot);
    this.keys[slot] = k;
    this.best[slot] = undefined;
    this.held[slot] = undefined;
    this.refs[slot] = 0;
    this.state[slot] = 0;
    return slot;
  }

  /** A freed slot to give another prefix (undefined: none). */
  private reusable(): number | undefined {
    for (let slot = this.free.pop(); slot !== undefined; slot = this.free.pop()) {
      this.state[slot] &= ~LISTED;
      if (this.state[slot] & FREE) return slot;
    }
    return undefined;
  }

  /**
   * The slot a change recorded as (k, slot) has now: slot itself while it still holds k (the
   * usual case, no lookup), else a lookup (it was freed, and maybe reused, meanwhile; -1: unknown).
   */
  current(k: string, slot: number): number | undefined {
    return slot >= 0 && this.keys[slot] === k && !(this.state[slot] & FREE) ? slot : this.get(k);
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
    return this.bestAt(this.get(k));
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

  // ---- the Adj-RIB-In: each peer's path for the prefix

  /** The paths peers sent for the prefix at this slot: one, several, or none. */
  heldAt(slot: number | undefined): Path | readonly Path[] | undefined {
    return slot === undefined ? undefined : this.held[slot];
  }

  /** The path peer `source` sent for the prefix at this slot. */
  pathFrom(slot: number | undefined, source: string): Path | undefined {
    const h = slot === undefined ? undefined : this.held[slot];
    if (!h) return undefined;
    if (!Array.isArray(h)) return h.source === source ? h : undefined;
    for (const r of h) if (r.source === source) return r;
    return undefined;
  }

  /** Sets the path of its source (path.source) for the prefix at this slot; true when that peer had none. */
  put(slot: number, path: Path): boolean {
    const h = this.held[slot];
    if (!h) {
      this.held[slot] = path;
      return true;
    }
    if (!Array.isArray(h)) {
      if (h.source === path.source) {
        this.held[slot] = path;
        return false;
      }
      this.held[slot] = [h, path];
      return true;
    }
    const i = h.findIndex((r) => r.source === path.source);
    if (i >= 0) h[i] = path;
    else h.push(path);
    return i < 0;
  }

  /** Drops peer source's path for the prefix at this slot (the slot is freed if nothing else holds it); false when it had none. */
  drop(slot: number, source: string): boolean {
    const h = this.held[slot];
    if (!h) return false;
    if (!Array.isArray(h)) {
      if (h.source !== source) return false;
      this.held[slot] = undefined;
    } else {
      const i = h.findIndex((r) => r.source === source);
      if (i < 0) return false;
      h.splice(i, 1);
      if (h.length === 1) this.held[slot] = h[0];
    }
    this.release(slot);
    return true;
  }

  /** Peer source's paths: prefix key, path and slot (a walk over every slot, as BIRD walks its table to flush a protocol). */
  *heldBy(source: string): IterableIterator<[string, Path, number]> {
    for (let slot = 0; slot < this.keys.length; slot++) {
      const r = this.pathFrom(slot, source);
      if (r) yield [this.keys[slot], r, slot];
    }
  }

  /** Prefix keys some peer has a path for. */
  *heldKeys(): IterableIterator<string> {
    for (let slot = 0; slot < this.keys.length; slot++) if (this.held[slot]) yield this.keys[slot];
  }

  // ---- the Adj-RIB-Out: groups advertising the prefix

  ref(slot: number): void {
    this.refs[slot]++;
  }

  unref(slot: number): void {
    this.refs[slot]--;
    this.release(slot);
  }

  /** Frees the slot once nothing holds it: no group advertises it, no peer sent it, no best path. */
  private release(slot: number): void {
    if (this.refs[slot] || this.held[slot] || this.best[slot]) return;
    const st = this.state[slot];
    if (st & FREE) return;
    this.state[slot] = st | FREE | LISTED;
    if (!(st & LISTED)) this.free.push(slot);
  }
}
