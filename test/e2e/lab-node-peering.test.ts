// Explicit peering between Calico nodes (#16 item 7): a lab of 3 tortie-nodes with the mesh off and
// BGPPeers that name other nodes' addresses — one global BGPPeer to node3 with neither asNumber nor
// port (node3's AS and listen port are used; node3 peers back), one scoped to node1 naming node2.
// Every pair of nodes peers exactly once, routes flow and every pod reaches every other pod.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withApi } from '../../bgp/api/gobgp/client.js';
import { eventually, testLab, type TestLab } from './lab-helpers.js';

const IP = { node1: '10.0.0.11', node2: '10.0.0.12', node3: '10.0.0.13' } as const;

const PEERS = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: everyone-to-node3}
spec: {peerIP: ${IP.node3}}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: node1-to-node2}
spec: {node: node1, peerIP: ${IP.node2}}
`;

describe('e2e: explicit BGPPeers between Calico nodes, mesh off', () => {
  let t: TestLab;

  beforeAll(async () => {
    t = testLab('npeer');
    await t.lab(['up', '--nodes', '3', '--pods-per-node', '1']);
    await t.lab(['ctl', 'config', 'set', 'nodeToNodeMesh', 'off']);
    const doc = join(t.stateDir, 'peers.yaml');
    writeFileSync(doc, PEERS);
    await t.lab(['ctl', 'apply', '-f', doc]);
  }, 600_000);

  afterAll(async () => {
    await t?.down();
  }, 120_000);

  it('`tortiectl bgp peers` shows the explicit peerings: node3 global and passive on the lower address, node1–node2 scoped, the reverse ones on node2 and node3', async () => {
    const node1 = await t.lab(['ctl', 'bgp', 'peers', '--node', 'node1']);
    expect(node1).toMatch(/^Global_10_0_0_13 +10\.0\.0\.13 +64512 +global +yes /m);
    expect(node1).toMatch(/^Node_10_0_0_12 +10\.0\.0\.12 +64512 +node +no /m);
    expect(node1).not.toMatch(/^Mesh_/m);
    const node2 = await t.lab(['ctl', 'bgp', 'peers', '--node', 'node2']);
    expect(node2).toMatch(/^Global_10_0_0_13 +.* global +yes /m);
    expect(node2).toMatch(/^Node_10_0_0_11 +.* node +no /m);
    const node3 = await t.lab(['ctl', 'bgp', 'peers', '--node', 'node3']);
    expect(node3).toMatch(/^Node_10_0_0_11 +.* node +no /m);
    expect(node3).toMatch(/^Node_10_0_0_12 +.* node +no /m);
  });

  it('each node has exactly the two other nodes Established (one session per pair)', async () => {
    await eventually(async () => {
      for (const n of ['node1', 'node2', 'node3'] as const) {
        const peers = await withApi(`unix:${t.stateDir}/${n}-gobgp.sock`, (c) => c.peers()).catch(() => []);
        const up = peers.filter((p) => p.state === 'Established').map((p) => p.address).sort();
        const want = Object.entries(IP).filter(([k]) => k !== n).map(([, v]) => v).sort();
        if (peers.length !== 2 || up.join(',') !== want.join(',')) return undefined;
      }
      return true;
    }, 120_000);
  });

  it('`tortie-lab ping`: every pod reaches every other pod over the explicit peerings', async () => {
    const out = await eventually(async () => t.lab(['ping']).catch(() => undefined), 120_000);
    expect(out).toMatch(/^6\/6 reachable$/m);
  });
});
