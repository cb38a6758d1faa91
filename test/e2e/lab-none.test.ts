// 3 nodes, one subnet, no encapsulation: every pod reaches every other; each node routes the
// remote blocks via the peers' addresses and blackholes its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('n');
const routesOf = async (node: string): Promise<string[]> => (await t.exec(t.ns(node), ['ip', 'route', 'show', 'proto', '80'])).split('\n').filter(Boolean).map((l) => l.trim()).sort();
const allRoutes = async (): Promise<Record<string, string[]>> => ({ node1: await routesOf('node1'), node2: await routesOf('node2'), node3: await routesOf('node3') });
interface St {
  nodes: Array<{ name: string; ip: string; blocks: string[] }>;
  pods: Array<{ name: string; ip: string; node: string }>;
}

describe('lab: 3 nodes, one subnet, encap none', () => {
  beforeAll(async () => {
    await t.lab(['up', '--nodes', '3', '--pods-per-node', '2']);
  }, 300_000); // three agents and six CNI ADDs from source (tsx) on a shared 2-core machine
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
    const before = await allRoutes();
    await t.lab(['pod', 'del', 'pod-node2-2']);
    let routes = await eventually(async () => {
      const r = await t.exec(t.ns('node2'), ['ip', 'route', 'show', 'proto', '80']);
      return r.includes(`${gone} dev cali`) ? undefined : r;
    });
    expect(routes).not.toContain(`${gone} dev cali`);
    expect(routes).toContain(`${kept} dev cali`);
    // Exactly its route, everywhere: node2 lost that one line, the other hosts nothing.
    const after = await allRoutes();
    expect(after.node2).toEqual(before.node2?.filter((l) => !l.startsWith(`${gone} dev cali`)));
    expect(after.node1).toEqual(before.node1);
    expect(after.node3).toEqual(before.node3);
    // CNI DEL also removed its WorkloadEndpoint.
    expect(await t.lab(['ctl', 'get', 'workloadendpoints', '-n', 'default'])).not.toContain('pod-node2-2');
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

  it('pod add --labels: the CNI plugin writes them into the WorkloadEndpoint', async () => {
    await t.lab(['ns', 'add', 'shop', '--labels', 'team=a']);
    await t.lab(['pod', 'add', 'web', '-n', 'shop', '--labels', 'app=web,tier=front', '--node', 'node3']);
    const wep = await t.lab(['ctl', 'get', 'workloadendpoints', '-n', 'shop', '-o', 'json']);
    const items = (JSON.parse(wep) as { items: Array<{ metadata: { labels: Record<string, string> }; spec: { node: string; pod: string; containerID: string } }> }).items;
    expect(items).toHaveLength(1);
    expect(items[0]?.metadata.labels).toMatchObject({ app: 'web', tier: 'front', 'projectcalico.org/namespace': 'shop' });
    expect(items[0]?.spec).toMatchObject({ node: 'node3', pod: 'web' });
    expect(items[0]?.spec.containerID).toMatch(/^[0-9a-f]{64}$/);
  });

  it('deleting a node removes exactly its routes everywhere', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
    const gone = st.nodes.find((n) => n.name === 'node3');
    expect(gone?.blocks.length).toBeGreaterThan(0);
    const before = await allRoutes();
    await t.lab(['node', 'del', 'node3']);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(t.ns('node3'));
    const via = gone?.ip.split('/')[0] ?? '';
    for (const n of ['node1', 'node2']) {
      const want = before[n]?.filter((l) => !l.includes(`via ${via} `) && !(gone?.blocks ?? []).some((b) => l.startsWith(`${b} `)));
      expect(want?.length).toBeLessThan(before[n]?.length ?? 0);
      const got = await eventually(async () => {
        const r = await routesOf(n);
        return JSON.stringify(r) === JSON.stringify(want) ? r : undefined;
      }, 60_000).catch(async () => routesOf(n));
      expect(got, n).toEqual(want);
    }
    expect(await t.lab(['ctl', 'get', 'nodes'])).not.toContain('node3');
    const left = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
    expect(left.pods.some((p) => p.node === 'node3')).toBe(false);
    const n = left.pods.length;
    expect(await t.lab(['ping'])).toMatch(new RegExp(`^${n * (n - 1)}/${n * (n - 1)} reachable$`, 'm'));
  });
});
