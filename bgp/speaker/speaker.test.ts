// The speaker without sockets (no listener, no peers): selection of originated prefixes. A large
// announce()/withdraw() must leave the event loop free between slices (timers scheduled before it
// run before it has finished), and the end state must be what the calls asked for.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Speaker } from './speaker.js';
import type { Prefix } from '../types.js';

const log = pino({ level: 'silent' });
const N = 100_000;
const prefixes: Prefix[] = Array.from({ length: N }, (_, i) => ({ family: 4, address: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, length: 32 }));
const speaker = (): Speaker => new Speaker({ asNumber: 64512, routerId: '10.0.0.1', listenPort: 0, families: [4] }, { onRoute: () => undefined }, log);
const selected = async (s: Speaker): Promise<void> => {
  while (s.localSelectionPending) await new Promise((r) => setImmediate(r));
};

describe('originating many prefixes', () => {
  it('a single call of 100,000 prefixes: timers run before selection has finished, and every prefix is selected', async () => {
    const s = speaker();
    const seen: Array<[string, number]> = [];
    setImmediate(() => seen.push(['immediate', s.localSelectionPending]));
    setTimeout(() => seen.push(['timeout', s.localSelectionPending]), 0);
    s.announce(prefixes, { communities: [1] });
    // The originated set changes at once.
    expect(s.originated()).toHaveLength(N);
    expect(s.localSelectionPending).toBeGreaterThan(0);
    await selected(s);
    expect(seen.map(([w]) => w).sort()).toEqual(['immediate', 'timeout']);
    // Both fired while prefixes were still waiting for selection.
    for (const [, pending] of seen) expect(pending).toBeGreaterThan(0);
    const best = s.bestPaths();
    expect(best).toHaveLength(N);
    expect(best.every((b) => b.source === 'local' && b.attrs.communities?.[0] === 1)).toBe(true);
    await s.stop();
  });

  it('a loop of single-prefix calls is sliced the same way', async () => {
    const s = speaker();
    let fired = -1;
    setImmediate(() => (fired = s.localSelectionPending));
    for (const p of prefixes) s.announce([p]);
    await selected(s);
    expect(fired).toBeGreaterThan(0);
    expect(s.bestPaths()).toHaveLength(N);
    await s.stop();
  });

  it('a small call is selected at once, as before', () => {
    const s = speaker();
    s.announce(prefixes.slice(0, 3));
    expect(s.localSelectionPending).toBe(0);
    expect(s.bestPaths().map((b) => `${b.prefix.address}/${b.prefix.length}`)).toEqual(['10.100.0.0/32', '10.100.0.1/32', '10.100.0.2/32']);
  });

  it('calls overlapping a queued announce end in what the last call asked for', async () => {
    const s = speaker();
    s.announce(prefixes);
    // Before most of it is selected: half withdrawn, a quarter re-announced with other attributes.
    s.withdraw(prefixes.slice(0, N / 2));
    s.announce(prefixes.slice(N / 2, (3 * N) / 4), { med: 7 });
    expect(s.originated()).toHaveLength(N / 2);
    await selected(s);
    const best = new Map(s.bestPaths().map((b) => [b.prefix.address, b]));
    expect(best.size).toBe(N / 2);
    expect(best.has(prefixes[0].address)).toBe(false);
    expect(best.get(prefixes[N / 2].address)?.attrs.med).toBe(7);
    expect(best.get(prefixes[N - 1].address)?.attrs.med).toBeUndefined();
    // And withdrawing the rest empties the Loc-RIB.
    s.withdraw(prefixes.slice(N / 2));
    await selected(s);
    expect(s.bestPaths()).toHaveLength(0);
    await s.stop();
  });
});
