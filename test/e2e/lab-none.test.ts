// 3 nodes, one subnet, no encapsulation: every pod reaches every other; each node routes the
// remote blocks via the peers' addresses and blackholes its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('n');

describe('lab: 3 nodes, one subnet, encap none', () => {
  beforeAll(async () => {
    await t.lab(['up', '--nodes', '3', '--pods-per-node', '2']);
  });
  afterAll(async () => {
    await t.down();
  });

  it('all pods reach each other', async () => {
    const out = await t.lab(['ping']);
    expect(out).toMatch(/^30\/30 reachable$/m);
  });

  it('routes remote blocks via peer addresses and blackholes its own', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; ip: string; blocks: string[]; routes: string[] }> };
    for (const n of st.nodes) expect(n.blocks.length, n.name).toBeGreaterThan(0);
    for (const n of st.nodes) {
      const routes = await t.exec(t.ns(n.name), ['ip', 'route', 'show', 'proto', '80']);
      for (const b of n.blocks) expect(routes).toContain(`blackhole ${b}`);
      for (const peer of st.nodes.filter((x) => x !== n)) {
        const via = peer.ip.split('/')[0] ?? '';
        for (const b of peer.blocks) expect(routes).toContain(`${b} via ${via} dev eth0`);
      }
    }
  });

  it('status -o json lists nodes and pods', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; routes: string[] }>; pods: unknown[] };
    expect(st.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(st.pods).toHaveLength(6);
  });

  it('deleting a pod removes exactly its route; adding one programs it', async () => {
    const pods = (JSON.parse(await t.lab(['status', '-o', 'json'])) as { pods: Array<{ name: string; ip: string }> }).pods;
    const gone = pods.find((p) => p.name === 'pod-node2-2')?.ip;
    const kept = pods.find((p) => p.name === 'pod-node2-1')?.ip;
    await t.lab(['pod', 'del', 'pod-node2-2']);
    let routes = await eventually(async () => {
      const r = await t.exec(t.ns('node2'), ['ip', 'route', 'show', 'proto', '80']);
      return r.includes(`${gone} dev cali`) ? undefined : r;
    });
    expect(routes).not.toContain(`${gone} dev cali`);
    expect(routes).toContain(`${kept} dev cali`);
    await t.lab(['pod', 'add', 'extra', '--node', 'node2']);
    const added = (JSON.parse(await t.lab(['status', '-o', 'json'])) as { pods: Array<{ name: string; ip: string }> }).pods.find((p) => p.name === 'extra')?.ip;
    routes = await eventually(async () => {
      const r = await t.exec(t.ns('node2'), ['ip', 'route', 'show', 'proto', '80']);
      return r.includes(`${added} dev cali`) ? r : undefined;
    });
    expect(routes).toContain(`${added} dev cali`);
    expect(await eventually(async () => ((await t.lab(['ping'])).match(/^30\/30 reachable$/m) ? 'ok' : undefined))).toBe('ok');
  });

  it('foreign routes survive reprogramming', async () => {
    await t.exec(t.ns('node1'), ['ip', 'route', 'add', '192.0.2.0/24', 'via', '10.0.0.1']);
    await t.lab(['pod', 'add', 'another', '--node', 'node1']);
    await eventually(async () => ((await t.exec(t.ns('node1'), ['ip', 'route', 'show', 'proto', '80'])).split('\n').filter((l) => / dev cali/.test(l)).length === 3 ? 'ok' : undefined));
    const routes = await t.exec(t.ns('node1'), ['ip', 'route']);
    expect(routes).toMatch(/^192\.0\.2\.0\/24 via 10\.0\.0\.1/m);
  });
});
