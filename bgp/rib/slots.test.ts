import { describe, expect, it } from 'vitest';
import type { Path } from './path.js';
import { PrefixSlots } from './slots.js';

const path = (source: string, nextHop = source): Path => ({ attrs: { origin: 0, asPath: [] }, nextHop, family: 4, source, ebgp: false, peerRouterId: source });

describe('prefix slots', () => {
  it('hold one path per peer: a peer’s new path replaces its old one, others add to the prefix', () => {
    const t = new PrefixSlots();
    const s = t.for('10.0.0.0/24');
    expect(t.put(s, path('10.0.0.1'))).toBe(true);
    expect(t.put(s, path('10.0.0.1', '10.0.0.9'))).toBe(false);
    expect(t.heldAt(s)).toEqual(path('10.0.0.1', '10.0.0.9'));
    expect(t.put(s, path('10.0.0.2'))).toBe(true);
    expect(t.heldAt(s)).toEqual([path('10.0.0.1', '10.0.0.9'), path('10.0.0.2')]);
    expect(t.pathFrom(s, '10.0.0.1')?.nextHop).toBe('10.0.0.9');
    expect(t.drop(s, '10.0.0.3')).toBe(false);
    expect(t.drop(s, '10.0.0.1')).toBe(true);
    expect(t.heldAt(s)).toEqual(path('10.0.0.2'));
    expect([...t.heldBy('10.0.0.2')].map(([k]) => k)).toEqual(['10.0.0.0/24']);
    expect([...t.heldBy('10.0.0.1')]).toEqual([]);
  });

  it('free a slot once nothing holds it; the same prefix coming back gets it again', () => {
    const t = new PrefixSlots();
    const s = t.for('10.0.0.0/24');
    t.put(s, path('10.0.0.1'));
    t.ref(s);
    t.drop(s, '10.0.0.1');
    expect(t.get('10.0.0.0/24')).toBe(s); // a group still advertises it
    t.unref(s);
    expect(t.get('10.0.0.0/24')).toBeUndefined();
    expect(t.current('10.0.0.0/24', s)).toBeUndefined();
    expect(t.for('10.0.0.0/24')).toBe(s);
    expect(t.get('10.0.0.0/24')).toBe(s);
  });

  it('give a freed slot to another prefix, and never one revived since it was freed', () => {
    const t = new PrefixSlots();
    const a = t.for('10.0.0.0/24');
    const b = t.for('10.0.1.0/24');
    for (const s of [a, b]) {
      t.put(s, path('10.0.0.1'));
      t.drop(s, '10.0.0.1');
    }
    // a flaps many times and takes its own slot back each time.
    for (let i = 0; i < 100; i++) {
      expect(t.for('10.0.0.0/24')).toBe(a);
      t.put(a, path('10.0.0.1'));
      t.drop(a, '10.0.0.1');
    }
    t.put(t.for('10.0.0.0/24'), path('10.0.0.1'));
    // b is free, a is held: a new prefix gets b, whose old key then has no slot.
    expect(t.for('10.0.2.0/24')).toBe(b);
    expect(t.get('10.0.1.0/24')).toBeUndefined();
    expect(t.for('10.0.3.0/24')).toBe(2);
    expect(t.size).toBe(3);
  });
});
