// 3 nodes, one subnet, no encapsulation: every pod reaches every other; each node routes the
// remote blocks via the peers' addresses and blackholes its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLab } from './lab-helpers.js';

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
    for (let i = 1; i <= 3; i++) {
      const routes = await t.exec(t.ns(`node${i}`), ['ip', 'route', 'show', 'proto', '80']);
      expect(routes).toContain(`blackhole 10.65.${i}.0/26`);
      for (let j = 1; j <= 3; j++) {
        if (j !== i) expect(routes).toMatch(new RegExp(`^10\\.65\\.${j}\\.0/26 via 10\\.0\\.0\\.${10 + j} dev eth0`, 'm'));
      }
    }
  });

  it('status -o json lists nodes and pods', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; routes: string[] }>; pods: unknown[] };
    expect(st.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(st.pods).toHaveLength(6);
  });

  it('deleting a pod removes exactly its route; adding one programs it', async () => {
    await t.lab(['pod', 'del', 'pod-node2-2']);
    let routes = await t.exec(t.ns('node2'), ['ip', 'route', 'show', 'proto', '80']);
    expect(routes).not.toMatch(/^10\.65\.2\.2 /m);
    expect(routes).toMatch(/^10\.65\.2\.1 dev cali/m);
    await t.lab(['pod', 'add', 'extra', '--node', 'node2']);
    routes = await t.exec(t.ns('node2'), ['ip', 'route', 'show', 'proto', '80']);
    expect(routes).toMatch(/^10\.65\.2\.2 dev cali/m);
    expect(await t.lab(['ping'])).toMatch(/^30\/30 reachable$/m);
  });

  it('foreign routes survive reprogramming', async () => {
    await t.exec(t.ns('node1'), ['ip', 'route', 'add', '192.0.2.0/24', 'via', '10.0.0.1']);
    await t.lab(['pod', 'add', 'another', '--node', 'node1']);
    const routes = await t.exec(t.ns('node1'), ['ip', 'route']);
    expect(routes).toMatch(/^192\.0\.2\.0\/24 via 10\.0\.0\.1/m);
  });
});
