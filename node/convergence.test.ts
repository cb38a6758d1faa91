import { describe, expect, it } from 'vitest';
import { learnedKeys, PendingSince } from './convergence.js';

describe('PendingSince', () => {
  it('reports each key once, timed from its first sighting, when an apply that started after it succeeds', () => {
    const p = new PendingSince();
    p.seen('a', 1000);
    p.seen('a', 1500);
    p.seen('b', 2000);
    // An apply that started before b was seen does not include it.
    expect(p.programmed(1800, 2100)).toEqual([1.1]);
    expect(p.programmed(2050, 2500)).toEqual([0.5]);
    expect(p.programmed(3000, 3100)).toEqual([]);
  });

  it('forgets a key that went away before it was programmed', () => {
    const p = new PendingSince();
    p.seen('a', 0);
    p.forget('a');
    expect(p.programmed(10, 20)).toEqual([]);
  });
});

describe('learnedKeys', () => {
  it('names a route by destination and its next hops in any order', () => {
    expect(learnedKeys([{ dst: '10.0.0.0/26', nextHops: ['2.2.2.2', '1.1.1.1'] }])).toEqual(new Set(['10.0.0.0/26 via 1.1.1.1,2.2.2.2']));
  });
});
