// The workload dispatch tree: every local interface reaches its own endpoint chain, an unknown one
// is dropped, and a new pod changes only a small part of the tree.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DISPATCH_LEAF, renderDispatch } from './dispatch.js';
import type { Direction } from './names.js';
import type { ChainSpec } from './types.js';

/** Interface names as the CNI plugin makes them: "cali" + 11 hex characters of a hash. */
const hashed = (n: number): string[] => Array.from({ length: n }, (_, i) => `cali${createHash('sha1').update(`ns.pod-${i}`).digest('hex').slice(0, 11)}`);
const sequential = (n: number): string[] => Array.from({ length: n }, (_, i) => `cali${(i + 1).toString(16).padStart(11, '0')}`);

/** Follows the dispatch rules for a packet on `iface`; returns the final target. */
function dispatch(chains: readonly ChainSpec[], iface: string, dir: Direction): string {
  const byName = new Map(chains.map((c) => [c.name, c]));
  let chain: ChainSpec | undefined = chains[0];
  for (let hops = 0; chain && hops < 10; hops++) {
    const flag = dir === 'egress' ? '-i' : '-o';
    let next: ChainSpec | undefined;
    for (const rule of chain.rules) {
      const m = new RegExp(`^(?:${flag} (\\S+) )?-([gj]) (\\S+)$`).exec(rule);
      if (!m) throw new Error(`unexpected dispatch rule ${rule}`);
      const pattern = m[1];
      const hit = pattern === undefined || (pattern.endsWith('+') ? iface.startsWith(pattern.slice(0, -1)) : iface === pattern);
      if (!hit) continue;
      next = byName.get(m[3] as string);
      if (!next) return m[3] as string;
      break;
    }
    chain = next;
  }
  throw new Error(`no verdict for ${iface}`);
}

describe('workload dispatch', () => {
  it('sends every interface to its own endpoint chain and drops unknown cali interfaces, both ways', () => {
    for (const ifaces of [hashed(1000), sequential(1030), hashed(3), []]) {
      for (const dir of ['egress', 'ingress'] as const) {
        const chains = renderDispatch(dir, ifaces);
        for (const i of ifaces) expect(dispatch(chains, i, dir)).toBe(`${dir === 'egress' ? 'cali-fw-' : 'cali-tw-'}${i}`);
        expect(dispatch(chains, 'cali0000unknown', dir)).toBe('DROP');
      }
    }
  });

  it("splits by the character after the common prefix into Calico's cali-from-wl-dispatch-<char> children", () => {
    const chains = renderDispatch('egress', hashed(1000));
    expect(chains[0]?.name).toBe('cali-from-wl-dispatch');
    expect(chains[0]?.rules).toContain('-i cali0+ -g cali-from-wl-dispatch-0');
    expect(chains[0]?.rules.at(-1)).toBe('-j DROP');
    expect(renderDispatch('ingress', hashed(1000)).map((c) => c.name)).toContain('cali-to-wl-dispatch-f');
    // A few interfaces with distinct next characters stay in the root.
    expect(renderDispatch('egress', ['calia', 'calib'])).toEqual([{ name: 'cali-from-wl-dispatch', rules: ['-i calia -g cali-fw-calia', '-i calib -g cali-fw-calib', '-j DROP'] }]);
  });

  it(`keeps every chain short (at most ${DISPATCH_LEAF} interfaces at the leaves), also for sequential names`, () => {
    for (const ifaces of [hashed(5000), sequential(5000)]) {
      const chains = renderDispatch('egress', ifaces);
      for (const c of chains) {
        expect(c.name.length).toBeLessThanOrEqual(28);
        expect(c.rules.length).toBeLessThanOrEqual(DISPATCH_LEAF + 1 + 16);
      }
    }
  });

  it('a new interface changes at most the root and one chain below it', () => {
    for (const ifaces of [hashed(1001), sequential(1001)]) {
      const before = new Map(renderDispatch('egress', ifaces.slice(0, 1000)).map((c) => [c.name, c.rules.join('\n')]));
      const after = renderDispatch('egress', ifaces);
      const changed = after.filter((c) => before.get(c.name) !== c.rules.join('\n'));
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.length).toBeLessThanOrEqual(2);
      expect(changed.reduce((n, c) => n + c.rules.length, 0)).toBeLessThan(120);
    }
  });
});
