// Restart: SIGKILL tortie-node on a host while pods ping across it. Its kernel routes stay, the
// other nodes keep its routes (graceful restart), no ping is lost, and after it comes back there
// are no stale or duplicate routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('r');
interface St {
  nodes: Array<{ name: string; ready?: string }>;
  pods: Array<{ name: string; ip: string; node: string }>;
}

const routesOf = async (node: string): Promise<string[]> => (await t.exec(t.ns(node), ['ip', 'route', 'show', 'proto', '80'])).split('\n').filter(Boolean).map((l) => l.trim()).sort();

describe('lab: tortie-node restart keeps traffic flowing', () => {
  beforeAll(async () => {
    await t.lab(['up', '--nodes', '3', '--pods-per-node', '1']);
  }, 300_000);
  afterAll(async () => {
    await t.down();
  });

  it('SIGKILL + restart: routes kept everywhere, 0 pings lost, no stale or duplicate routes after', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
    const target = st.pods.find((p) => p.node === 'node2');
    const before = { node1: await routesOf('node1'), node2: await routesOf('node2'), node3: await routesOf('node3') };
    expect(target).toBeDefined();
    const pingers = ['pod-node1-1', 'pod-node3-1'].map((pod) => t.lab(['exec', pod, '--', 'ping', '-i', '0.2', '-w', '25', '-q', target?.ip ?? '']));
    await new Promise((r) => setTimeout(r, 2000));
    await t.lab(['node', 'kill', 'node2']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await routesOf('node2')).toEqual(before.node2);
    expect(await routesOf('node1')).toEqual(before.node1);
    await t.lab(['node', 'start', 'node2']);
    await eventually(async () => {
      const s = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
      return s.nodes.find((n) => n.name === 'node2')?.ready === 'ready' ? true : undefined;
    }, 60_000);
    const outs = await Promise.all(pingers);
    for (const out of outs) {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      expect(m, out).not.toBeNull();
      expect(Number(m?.[1])).toBeGreaterThan(50);
      expect(m?.[2], out).toBe(m?.[1]);
    }
    // After the restart window closes the tables are exactly what they were.
    for (const n of ['node1', 'node2', 'node3'] as const) {
      const after = await eventually(async () => {
        const r = await routesOf(n);
        return JSON.stringify(r) === JSON.stringify(before[n]) ? r : undefined;
      }, 30_000);
      expect(new Set(after).size).toBe(after.length);
    }
  });

  it('SIGTERM leaves the dataplane in place', async () => {
    const before = await routesOf('node3');
    await t.lab(['node', 'stop', 'node3']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await routesOf('node3')).toEqual(before);
    const pids = await run('ip', ['netns', 'pids', t.ns('node3')]);
    expect(pids.stdout.trim()).toBe('');
  });
});
