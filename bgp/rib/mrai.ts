// Minimum Route Advertisement Interval as a pure batcher with an injected clock. Changes for a peer
// accumulate; `poll(now)` says whether to send now or when to ask again. Default 0 ms for both iBGP
// and eBGP, like BIRD (Calico's router) and GoBGP, which send as soon as the table changes; with
// an interval > 0, churn within the interval collapses into one UPDATE per prefix (the latest
// state wins, because the Adj-RIB-Out diff is taken at flush time).
export const DEFAULT_MRAI_MS = { ibgp: 0, ebgp: 0 } as const;

export type MraiDecision = { flush: true } | { flush: false; wakeAt: number | undefined };

export class Mrai {
  private pending = new Set<string>();
  private lastFlush = Number.NEGATIVE_INFINITY;

  constructor(readonly intervalMs: number = 0) {
    if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new RangeError(`MRAI interval must be ≥ 0 ms, got ${intervalMs}`);
  }

  /** Prefix keys whose best path changed. */
  add(keys: Iterable<string>): void {
    for (const k of keys) this.pending.add(k);
  }

  get size(): number {
    return this.pending.size;
  }

  poll(now: number): MraiDecision {
    if (this.pending.size === 0) return { flush: false, wakeAt: undefined };
    const due = this.lastFlush + this.intervalMs;
    return now >= due ? { flush: true } : { flush: false, wakeAt: due };
  }

  /** Takes the batch (call when poll said flush). */
  take(now: number): string[] {
    const keys = [...this.pending];
    this.pending = new Set();
    this.lastFlush = now;
    return keys;
  }
}
