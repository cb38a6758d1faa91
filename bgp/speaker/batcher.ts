// When a group's or a peer's changes go out: on the next event-loop turn, or — with a minimum
// route advertisement interval (mraiMs, default 0 like BIRD and GoBGP) — no sooner than that after
// the previous batch, so churn inside the interval collapses into one UPDATE per prefix. The
// remaining chunks of a batch in progress (`more`) are never held back.

interface BatchState {
  scheduled: boolean;
  /** When the last batch of changes started going out, ms. */
  lastBatchAt?: number;
}

export class Batcher<K extends object> {
  private readonly state = new WeakMap<K, BatchState>();

  constructor(private readonly intervalMs: number) {}

  schedule(key: K, flush: () => void, more = false): void {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { scheduled: false }));
    if (s.scheduled) return;
    s.scheduled = true;
    const state = s;
    const run = (): void => {
      state.scheduled = false;
      if (!more) state.lastBatchAt = Date.now();
      flush();
    };
    const wait = more ? 0 : (s.lastBatchAt ?? -Infinity) + this.intervalMs - Date.now();
    if (wait > 0) setTimeout(run, wait).unref();
    else setImmediate(run);
  }
}
