import { describe, expect, it } from 'vitest';
import { GrHelper } from './gr.js';
import { DEFAULT_MRAI_MS, Mrai } from './mrai.js';

describe('Mrai', () => {
  it('defaults to 0 ms (send at once), like BIRD and GoBGP', () => {
    expect(DEFAULT_MRAI_MS).toEqual({ ibgp: 0, ebgp: 0 });
    const m = new Mrai();
    expect(m.poll(0)).toEqual({ flush: false, wakeAt: undefined });
    m.add(['a']);
    expect(m.poll(0)).toEqual({ flush: true });
    expect(m.take(0)).toEqual(['a']);
    m.add(['b']);
    expect(m.poll(0)).toEqual({ flush: true });
  });
  it('batches churn within the interval into one flush, each prefix once', () => {
    const m = new Mrai(5000);
    m.add(['a']);
    expect(m.poll(1000)).toEqual({ flush: true }); // first batch goes at once
    m.take(1000);
    m.add(['b', 'c']);
    m.add(['b']);
    expect(m.poll(2000)).toEqual({ flush: false, wakeAt: 6000 });
    expect(m.poll(6000)).toEqual({ flush: true });
    expect(m.take(6000).sort()).toEqual(['b', 'c']);
    expect(m.size).toBe(0);
  });
  it('rejects a negative interval with a clear message', () => {
    expect(() => new Mrai(-1)).toThrow(/MRAI interval/);
  });
});

describe('GrHelper', () => {
  it('peer without GR: routes dropped at once', () => {
    expect(new GrHelper().handle({ type: 'session-down', peer: 'p', now: 0, restartTime: undefined, families: [4] })).toEqual([{ type: 'drop-routes', peer: 'p' }]);
  });
  it('stale on down, refreshed after up, purged per family on End-of-RIB', () => {
    const g = new GrHelper(300);
    expect(g.handle({ type: 'session-down', peer: 'p', now: 0, restartTime: 120, families: [4, 6] })).toEqual([
      { type: 'mark-stale', peer: 'p' },
      { type: 'set-timer', peer: 'p', at: 120_000 },
    ]);
    expect(g.handle({ type: 'end-of-rib', peer: 'p', family: 4 })).toEqual([]); // not up yet
    expect(g.handle({ type: 'session-up', peer: 'p', now: 10_000, families: [4, 6] })).toEqual([{ type: 'set-timer', peer: 'p', at: 310_000 }]);
    expect(g.handle({ type: 'end-of-rib', peer: 'p', family: 4 })).toEqual([{ type: 'purge-stale', peer: 'p', family: 4 }]);
    expect(g.handle({ type: 'end-of-rib', peer: 'p', family: 6 })).toEqual([
      { type: 'purge-stale', peer: 'p', family: 6 },
      { type: 'cancel-timer', peer: 'p' },
    ]);
    expect(g.isHelping('p')).toBe(false);
  });
  it('restart timer expiry purges everything stale; an early timer is ignored', () => {
    const g = new GrHelper();
    g.handle({ type: 'session-down', peer: 'p', now: 0, restartTime: 120, families: [4] });
    expect(g.handle({ type: 'timer', peer: 'p', now: 1000 })).toEqual([]);
    expect(g.handle({ type: 'timer', peer: 'p', now: 120_000 })).toEqual([{ type: 'purge-stale', peer: 'p' }]);
  });
  it('a family the new session no longer preserves is purged at once', () => {
    const g = new GrHelper();
    g.handle({ type: 'session-down', peer: 'p', now: 0, restartTime: 120, families: [4, 6] });
    expect(g.handle({ type: 'session-up', peer: 'p', now: 5, families: [4] })).toEqual([
      { type: 'purge-stale', peer: 'p', family: 6 },
      { type: 'set-timer', peer: 'p', at: 360_005 },
    ]);
  });
});
