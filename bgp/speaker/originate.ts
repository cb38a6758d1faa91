// Originated prefixes (announce / withdraw) on their way into the RIB. The usual call (a node's
// few blocks) takes effect at once. Past LOCAL_SYNC_BUDGET prefixes in one event-loop turn (a
// 100k-prefix announce, or a caller looping over many single-prefix calls), calls are queued in
// order and applied in slices, so a large call never holds the event loop.
import type { Rib } from '../rib/index.js';
import type { PathAttributes, Prefix } from '../types.js';

/** Originated prefixes applied synchronously per event-loop turn. */
const LOCAL_SYNC_BUDGET = 256;
/** Longest selection of queued originated prefixes runs before yielding (ms). */
const LOCAL_SLICE_MS = 10;

export class OriginationQueue {
  /** Queued announce/withdraw calls, in order, each applied up to `at`, read from opHead. */
  private ops: Array<{ prefixes: Prefix[]; attrs: PathAttributes | undefined; at: number }> = [];
  private opHead = 0;
  /** Originated prefixes already changed in the RIB (settle) whose selection is queued. */
  private keys: string[] = [];
  private keyHead = 0;
  private drainTask?: NodeJS.Immediate;
  /** Originated prefixes still applied at once in this event-loop turn. */
  private budget = LOCAL_SYNC_BUDGET;

  constructor(private readonly rib: Rib) {}

  /** Originated prefixes whose announce/withdraw has not taken full effect yet (0: all selected). */
  get pending(): number {
    let n = this.keys.length - this.keyHead;
    for (let i = this.opHead; i < this.ops.length; i++) n += this.ops[i].prefixes.length - this.ops[i].at;
    return n;
  }

  /** announce (attrs) or withdraw (undefined): at once within the turn's budget and with nothing queued (order), else queued. */
  originate(prefixes: Prefix[], attrs: PathAttributes | undefined): void {
    if (!prefixes.length) return;
    if (this.opHead === this.ops.length && this.keyHead === this.keys.length && prefixes.length <= this.budget) {
      if (this.budget === LOCAL_SYNC_BUDGET) setImmediate(() => (this.budget = LOCAL_SYNC_BUDGET));
      this.budget -= prefixes.length;
      for (const p of prefixes) {
        const k = this.rib.setLocal(p, attrs);
        if (k !== undefined) this.rib.select(k);
      }
      return;
    }
    // A copy: the caller may reuse its array.
    this.ops.push({ prefixes: prefixes.slice(), attrs, at: 0 });
    this.drainTask ??= setImmediate(() => this.drain());
  }

  /** Applies every queued call to the originated table now (their selection stays queued). */
  settle(): void {
    for (; this.opHead < this.ops.length; this.opHead++) {
      const op = this.ops[this.opHead];
      for (; op.at < op.prefixes.length; op.at++) {
        const k = this.rib.setLocal(op.prefixes[op.at], op.attrs);
        if (k !== undefined) this.keys.push(k);
      }
    }
    this.ops = [];
    this.opHead = 0;
  }

  stop(): void {
    if (this.drainTask) clearImmediate(this.drainTask);
  }

  /**
   * Applies queued originations for at most LOCAL_SLICE_MS, then yields to the event loop (hold
   * timers, keepalives, and the group flushes of what was selected so far run in between).
   * Selection reads the current state, so a prefix selected twice, or changed again before its
   * turn, ends up with what holds by then.
   */
  private drain(): void {
    this.drainTask = undefined;
    const until = performance.now() + LOCAL_SLICE_MS;
    let n = 0;
    const more = (): boolean => (++n & 255) !== 0 || performance.now() < until;
    let going = true;
    while (going && this.keyHead < this.keys.length) {
      this.rib.select(this.keys[this.keyHead++]);
      going = more();
    }
    while (going && this.opHead < this.ops.length) {
      const op = this.ops[this.opHead];
      while (going && op.at < op.prefixes.length) {
        const k = this.rib.setLocal(op.prefixes[op.at++], op.attrs);
        if (k !== undefined) this.rib.select(k);
        going = more();
      }
      // (A sink callback calling originated() may have settled the queue meanwhile.)
      if (op.at === op.prefixes.length && this.ops[this.opHead] === op) this.opHead++;
    }
    if (this.keyHead === this.keys.length) {
      this.keys = [];
      this.keyHead = 0;
    }
    if (this.opHead === this.ops.length) {
      this.ops = [];
      this.opHead = 0;
    } else if (this.opHead > 4096) {
      this.ops = this.ops.slice(this.opHead);
      this.opHead = 0;
    }
    if (this.opHead < this.ops.length || this.keyHead < this.keys.length) this.drainTask = setImmediate(() => this.drain());
  }
}
