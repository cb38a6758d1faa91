// tortie-node peering with an external router, Calico style: a BIRD "ToR" attached to the lab
// fabric, one global BGPPeer in the datastore. The node's peer set comes from the Calico config
// generator (mesh with the passive rule plus the BGPPeer); the ToR's default route and prefix end up
// in every node's kernel (import policy → route sink → felix), and the ToR learns the nodes' blocks.
// Deleting the BGPPeer tears the sessions down and the ToR's routes leave the kernels.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bird } from '../harness/bird.js';
import { entryArgv } from '../harness/entry.js';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('tor');
const TOR_IP = '10.0.0.250';
const TOR_AS = 65010;

describe('lab: tortie-node peering with a BIRD ToR through a BGPPeer', () => {
  let tor: Bird | undefined;
  let dir = '';
  let nodes: Array<{ name: string; ip: string; blocks: string[] }> = [];

  const ctl = async (args: string[]): Promise<string> => {
    const s = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { etcdNs: string; etcdEndpoint: string };
    const r = await run('ip', ['netns', 'exec', s.etcdNs, 'env', 'DATASTORE_TYPE=etcdv3', `ETCD_ENDPOINTS=${s.etcdEndpoint}`, ...entryArgv('ctl/main'), ...args]);
    return r.stdout;
  };
  const kernelRoutes = (node: string): Promise<string> => t.exec(t.ns(node), ['ip', 'route', 'show', 'proto', '80']);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-lab-tor-'));
    await t.lab(['up', '--nodes', '2', '--pods-per-node', '1']);
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; ip: string; blocks: string[] }> };
    nodes = st.nodes.map((n) => ({ name: n.name, ip: n.ip.split('/')[0] ?? '', blocks: n.blocks }));
    await t.lab(['attach', 'tor', '--ip', `${TOR_IP}/24`]);
    tor = await Bird.start(t.ns('x-tor'), `router id ${TOR_IP};
protocol device {}
protocol static s4 { ipv4; route 0.0.0.0/0 blackhole; route 198.18.0.0/15 blackhole; }
template bgp node { local ${TOR_IP} as ${TOR_AS}; hold time 9; connect retry time 1; error wait time 1,2; ipv4 { import all; export all; }; }
${nodes.map((n) => `protocol bgp ${n.name} from node { neighbor ${n.ip} as 64512; }`).join('\n')}
`);
    writeFileSync(
      join(dir, 'peer.yaml'),
      `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: ${TOR_IP}
  asNumber: ${TOR_AS}
`,
    );
  }, 240_000);

  afterAll(async () => {
    await tor?.stop();
    await t.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the mesh is up with exactly one TCP connection between the nodes', async () => {
    const a = nodes[0]?.name ?? '';
    const conns = await eventually(async () => {
      const out = (await t.exec(t.ns(a), ['ss', '-Htn', 'state', 'established', '( sport = :179 or dport = :179 )'])).split('\n').filter((l) => l.trim());
      return out.length === 1 ? out : undefined;
    });
    expect(conns).toHaveLength(1);
  });

  it('a global BGPPeer brings the ToR up on every node; its default route reaches every kernel', async () => {
    await ctl(['apply', '-f', join(dir, 'peer.yaml')]);
    await eventually(async () => ((await tor?.protocols())?.filter((p) => p.info === 'Established').length === nodes.length ? true : undefined), 60_000);
    for (const n of nodes) {
      const routes = await eventually(async () => {
        const r = await kernelRoutes(n.name);
        return r.includes(`default via ${TOR_IP}`) && r.includes(`198.18.0.0/15 via ${TOR_IP}`) ? r : undefined;
      }, 60_000);
      expect(routes).toContain(`default via ${TOR_IP} dev eth0`);
    }
    // The ToR learned every block with our AS and a node as next hop (each node also passes on the
    // mesh-learned pool routes, next-hop-self over eBGP, as Calico's BIRD export filter does).
    const rs = await eventually(async () => {
      const r = await tor?.routes();
      return nodes.every((n) => n.blocks.every((b) => r?.some((x) => x.prefix === b))) ? r : undefined;
    }, 30_000);
    for (const b of nodes.flatMap((n) => n.blocks)) {
      const r = rs.find((x) => x.prefix === b);
      expect(nodes.map((n) => n.ip)).toContain(r?.attrs['BGP.next_hop']);
      expect(r?.attrs['BGP.as_path']).toBe('64512');
    }
    // `tortiectl bgp peers` shows the same set the node runs, and `tortiectl node status` on the
    // host reads it from tortie-node's management socket.
    expect(await ctl(['bgp', 'peers', '--node', nodes[0]?.name ?? ''])).toContain(TOR_IP);
    const n1 = nodes[0]?.name ?? '';
    const status = (await run('ip', ['netns', 'exec', t.ns(n1), ...entryArgv('ctl/main'), 'node', 'status', '--api', `unix:${join(t.stateDir, `${n1}-gobgp.sock`)}`])).stdout;
    expect(status).toMatch(/^Tortie process is running\./);
    expect(status).toMatch(new RegExp(`\\| ${TOR_IP.replace(/\./g, '\\.')} +\\| global +\\| up +\\|`));
    expect(status).toMatch(new RegExp(`\\| ${(nodes[1]?.ip ?? '').replace(/\./g, '\\.')} +\\| node-to-node mesh +\\| up +\\|`));
  });

  it('deleting the BGPPeer tears the ToR sessions down and its routes leave the kernels', async () => {
    await ctl(['delete', 'bgppeer', 'tor']);
    await eventually(async () => ((await tor?.protocols())?.some((p) => p.info === 'Established') ? undefined : true), 60_000);
    for (const n of nodes) {
      await eventually(async () => ((await kernelRoutes(n.name)).includes(`via ${TOR_IP}`) ? undefined : true), 60_000);
    }
    // Pods still reach each other over the mesh.
    expect(await t.lab(['ping'])).toMatch(/reachable/);
  });
});
