// A 20-speaker cluster with the mesh off behind two tortie-rr, wired the Calico way: one global
// BGPPeer to rr-0's IP (the seed-004 form) and one node-scoped BGPPeer to rr-1's IP for every
// non-reflector node. The reflectors read it from etcd; each client speaker runs exactly the peers
// and exports the same generator (bgp/config) computes for its node from the same resources.
// Proves: convergence (every speaker holds every other speaker's block) and `tortiectl node status`
// on a client showing its two reflectors as "global" and "node specific".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeBgpConfig } from '../../bgp/config/generate.js';
import type { BgpConfigInput, BGPPeerInput, NodeInput } from '../../bgp/config/types.js';
import { prefixToString } from '../../bgp/types.js';
import { nodeStatus } from '../../ctl/commands/node-status.js';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdCtl, RrProc, waitAll } from './rr-proc.js';
import { SpeakerProc } from './speaker-proc.js';

const AS = 64512;
const CLUSTER = '244.0.0.1';
const N = 20;
const block = (i: number): string => `10.62.${i}.0/26`;

describe('interop: 20 speakers, mesh off, two tortie-rr', () => {
  let lab: BgpLab;
  let etcd: EtcdServer;
  const rrs: RrProc[] = [];
  const speakers: SpeakerProc[] = [];
  let mRr: LabMember[];
  let mClients: LabMember[];

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'rrs', members: N + 3, v4Base: '10.84.0', v6Base: 'fd84::' });
    const mEtcd = lab.members[0];
    mRr = lab.members.slice(1, 3);
    mClients = lab.members.slice(3);
    etcd = await startEtcd({ netns: mEtcd.ns, host: mEtcd.ipv4 });
    const ctl = new EtcdCtl(mEtcd.ns, etcd.endpoint);
    const bgpConfigs = [{ metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, asNumber: AS } }];
    const peers: BGPPeerInput[] = [
      { metadata: { name: 'global-rr0' }, spec: { peerIP: mRr[0].ipv4, asNumber: AS } },
      { metadata: { name: 'nodes-rr1' }, spec: { nodeSelector: '!has(route-reflector)', peerIP: mRr[1].ipv4, asNumber: AS } },
    ];
    const pools = [{ metadata: { name: 'pool' }, spec: { cidr: '10.62.0.0/16' } }];
    const clients: NodeInput[] = mClients.map((m, i) => ({ metadata: { name: `node-${i}` }, spec: { bgp: { ipv4Address: `${m.ipv4}/24` } } }));
    const reflectors: NodeInput[] = mRr.map((m, k) => ({ metadata: { name: `rr-${k}`, labels: { 'route-reflector': 'true' } }, spec: { bgp: { ipv4Address: `${m.ipv4}/32`, routeReflectorClusterID: CLUSTER } } }));
    await ctl.putResource('bgpconfigurations', 'BGPConfiguration', 'default', bgpConfigs[0].spec);
    for (const p of peers) await ctl.putResource('bgppeers', 'BGPPeer', p.metadata.name, p.spec);
    await ctl.putResource('ippools', 'IPPool', 'pool', pools[0].spec);
    for (const n of clients) await ctl.putResource('nodes', 'Node', n.metadata.name, n.spec);
    const nodes = [...clients, ...reflectors];
    const startOne = async (m: LabMember, i: number): Promise<void> => {
      const input: BgpConfigInput = { nodeName: `node-${i}`, nodes, peers, bgpConfigs, pools, affinities: [block(i)], borrowedIps: [] };
      const cfg = computeBgpConfig(input);
      speakers[i] = await SpeakerProc.start(m.ns, {
        asNumber: cfg.asNumber,
        routerId: cfg.routerId,
        listenAddresses: [m.ipv4],
        holdTime: 30,
        connectRetryTime: 1,
        errorWait: [1, 2],
        families: [4],
        peers: cfg.peers.map(({ family: _f, source: _s, ...p }) => p),
        originate: cfg.exports.map((e) => ({ prefix: prefixToString(e.prefix) })),
      });
    };
    // Four at a time: twenty TypeScript start-ups at once starve each other on two cores.
    for (let i = 0; i < N; i += 4) await Promise.all(mClients.slice(i, i + 4).map((m, k) => startOne(m, i + k)));
    // The reflectors last: they peer back with every client, and dial those whose address sorts
    // above theirs as a string (Calico's rule for who dials between Calico nodes; those clients
    // wait). Started first, they would find those clients not yet listening and dial again only
    // after the connect-retry time (120 s, as BIRD); the clients retry each second.
    for (const [k, m] of mRr.entries()) rrs.push(await RrProc.start(m.ns, { IP: m.ipv4, CLUSTER_ID: CLUSTER, NODENAME: `rr-${k}`, ETCD_ENDPOINTS: etcd.endpoint }));
  }, 170_000);

  afterAll(async () => {
    await Promise.all(speakers.map((s) => s?.stop()));
    for (const r of rrs) await r.stop();
    await etcd?.stop();
    await lab?.cleanup();
  });

  it('each reflector peers with all 20 clients and with the other reflector', async () => {
    await waitAll('RR sessions', rrs, async (r) => {
      const ps = await r.peers();
      return ps.length === N + 1 && ps.every((p) => p.state === 'Established');
    }, 90_000);
  });

  it('converges: every speaker holds every other speaker’s block, next hop = its owner', async () => {
    await waitAll('full table on every client', speakers.map((s, i) => [s, i] as const), async ([s, i]) => {
      const inst = await s.installed();
      return inst.length === N - 1 && !inst.some((r) => r.prefix === block(i));
    }, 90_000);
    for (const [i, s] of speakers.entries()) {
      const inst = new Map((await s.installed()).map((r) => [r.prefix, r.nextHops[0]]));
      for (let j = 0; j < N; j++) if (j !== i) expect(inst.get(block(j))).toBe(mClients[j].ipv4);
    }
  });

  it('`tortiectl node status` on a client shows the two reflectors: global and node specific', async () => {
    const r = await nodeStatus(speakers[0].api);
    expect(r.code).toBe(0);
    const ip = (m: LabMember): string => m.ipv4.replace(/\./g, '\\.');
    expect(r.text).toMatch(new RegExp(`\\| ${ip(mRr[0])} +\\| global +\\| up +\\|`));
    expect(r.text).toMatch(new RegExp(`\\| ${ip(mRr[1])} +\\| node specific +\\| up +\\|`));
    expect(r.text.match(/\| up /g)).toHaveLength(2);
  });
});
