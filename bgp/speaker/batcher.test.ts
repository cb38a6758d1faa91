import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from './batcher.js';

describe('Batcher: when a group’s changes go out', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('with no interval, every batch goes out on the next event-loop turn', () => {
    const b = new Batcher<object>(0);
    const group = {};
    const sent: number[] = [];
    b.schedule(group, () => sent.push(Date.now()));
    b.schedule(group, () => sent.push(-1)); // already scheduled: one flush
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(1);
    b.schedule(group, () => sent.push(Date.now()));
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(2);
  });

  it('with 50 ms: the first change after a quiet spell goes at once, the next waits out the interval, then one flush carries it', () => {
    const b = new Batcher<object>(50);
    const group = {};
    const t0 = Date.now();
    const sent: number[] = [];
    b.schedule(group, () => sent.push(Date.now() - t0));
    vi.advanceTimersByTime(0);
    expect(sent).toEqual([0]);
    // Changes 10 and 30 ms later leave together, 50 ms after the first batch.
    vi.advanceTimersByTime(10);
    b.schedule(group, () => sent.push(Date.now() - t0));
    vi.advanceTimersByTime(20);
    b.schedule(group, () => sent.push(-1));
    vi.advanceTimersByTime(19);
    expect(sent).toEqual([0]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([0, 50]);
    // A quiet spell longer than the interval: the next change goes at once again.
    vi.advanceTimersByTime(200);
    b.schedule(group, () => sent.push(Date.now() - t0));
    vi.advanceTimersByTime(0);
    expect(sent).toEqual([0, 50, 250]);
  });

  it('the rest of a batch in progress is never held back, and each group keeps its own interval', () => {
    const b = new Batcher<object>(50);
    const [a, c] = [{}, {}];
    const t0 = Date.now();
    const sent: string[] = [];
    b.schedule(a, () => sent.push(`a@${Date.now() - t0}`));
    vi.advanceTimersByTime(0);
    b.schedule(a, () => sent.push(`a-more@${Date.now() - t0}`), true);
    b.schedule(c, () => sent.push(`c@${Date.now() - t0}`));
    vi.advanceTimersByTime(0);
    expect(sent).toEqual(['a@0', 'a-more@0', 'c@0']);
  });
});
