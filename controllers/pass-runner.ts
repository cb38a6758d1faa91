// Serialised reconcile passes: poke() asks for one after a short debounce (a burst of events
// becomes one pass), a pass returns when it wants the next one, and a pass asked for while one
// runs follows it. Shared by every controller.
export class PassRunner {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    /** One pass; resolves to the delay (ms) until the next unprompted one. */
    private readonly pass: () => Promise<number>,
    private readonly debounceMs = 500,
  ) {}

  poke(): void {
    this.schedule(this.debounceMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), Math.max(0, delayMs));
  }

  /** One pass now (or right after the running one). */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().then(
      (next) => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.run();
        } else this.schedule(next);
      },
      () => {
        this.running = undefined;
        this.schedule(5000);
      },
    );
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
