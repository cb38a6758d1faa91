import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PassRunner } from './pass-runner.js';

describe('PassRunner', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('turns a burst of pokes into one pass after the debounce', async () => {
    const pass = vi.fn(async () => 60_000);
    const r = new PassRunner(pass, 500);
    for (let i = 0; i < 10; i++) r.poke();
    await vi.advanceTimersByTimeAsync(499);
    expect(pass).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(pass).toHaveBeenCalledTimes(1);
    await r.stop();
  });

  it('never runs two passes at once: one asked for meanwhile follows the running one', async () => {
    let release!: () => void;
    let running = 0;
    let most = 0;
    const pass = vi.fn(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((res) => (release = res));
      running--;
      return 60_000;
    });
    const r = new PassRunner(pass);
    const first = r.run();
    void r.run();
    release();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(pass).toHaveBeenCalledTimes(2);
    expect(most).toBe(1);
    await r.stop();
  });

  it('schedules the next pass when the pass asks, and retries a failed one after 5 s', async () => {
    const pass = vi.fn().mockResolvedValueOnce(1000).mockRejectedValueOnce(new Error('down')).mockResolvedValue(60_000);
    const r = new PassRunner(pass);
    await r.run();
    await vi.advanceTimersByTimeAsync(1000);
    expect(pass).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(4999);
    expect(pass).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(pass).toHaveBeenCalledTimes(3);
    await r.stop();
  });
});
