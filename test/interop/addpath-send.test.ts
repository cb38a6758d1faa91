// ADD-PATH send (RFC 7911) from tortie-rr, as Calico's BIRD does with `add paths on`: two BIRD
// clients announce the same prefix; tortie-rr reflects both paths, each under its own path
// identifier, to a BIRD client configured `add paths rx` and to a GoBGP client with add-paths
// receive — each holds both next hops. One announcing client going away withdraws exactly its path.
// A client that did not negotiate ADD-PATH (the announcing BIRDs) gets the best path only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { Gobgp, gobgpConfig, pathAttr } from '../harness/gobgp.js';
import { EtcdCtl, RrProc, waitAll } from './rr-proc.js';

const AS = 64512;
const CLUSTER = '244.0.0.1';
const PREFIX = '198.51.100.0/24';

/** A client announcing PREFIX (next hop itself); `addPathsRx`: it receives every path. */
const birdClient = (me: string, rr: string, announce: boolean, addPathsRx = false): string => `router id ${me};
protocol device {}
${announce ? `protocol static s4 { ipv4; route ${PREFIX} blackhole; }` : ''}
protocol bgp reflector { local ${me} as ${AS}; neighbor ${rr} as ${AS}; hold time 6; connect retry time 1; error wait time 1,2;
  ipv4 { import all; export ${announce ? 'where proto = "s4"' : 'none'};${addPathsRx ? ' add paths rx;' : ''} }; }
`;

describe('interop: ADD-PATH send from tortie-rr to BIRD (add paths rx) and GoBGP (add-paths receive)', () => {
  let lab: BgpLab;
  let etcd: EtcdServer;
  let rr: RrProc;
  let c1: Bird;
  let c2: Bird;
  let birdRx: Bird;
  let goRx: Gobgp;
  let m: Record<'rr' | 'c1' | 'c2' | 'birdRx' | 'goRx', LabMember>;

  const birdHops = async (b: Bird): Promise<string[]> =>
    (await b.routes()).filter((r) => r.prefix === PREFIX).map((r) => r.attrs['BGP.next_hop'] ?? '').sort();
  const gobgpHops = async (): Promise<string[]> =>
    ((await goRx.rib())[PREFIX] ?? []).map((p) => String(pathAttr(p, 3)?.nexthop ?? '')).sort();

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'aps', members: 6, v4Base: '10.86.0', v6Base: 'fd86::' });
    const [mEtcd, rrM, c1M, c2M, birdRxM, goRxM] = lab.members as [LabMember, LabMember, LabMember, LabMember, LabMember, LabMember];
    m = { rr: rrM, c1: c1M, c2: c2M, birdRx: birdRxM, goRx: goRxM };
    etcd = await startEtcd({ netns: mEtcd.ns, host: mEtcd.ipv4 });
    const ctl = new EtcdCtl(mEtcd.ns, etcd.endpoint);
    await ctl.putResource('bgpconfigurations', 'BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false, asNumber: AS });
    await ctl.putResource('bgppeers', 'BGPPeer', 'peer-with-rrs', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" });
    for (const name of ['c1', 'c2', 'birdRx', 'goRx'] as const) await ctl.putResource('nodes', 'Node', name.toLowerCase(), { bgp: { ipv4Address: `${m[name].ipv4}/24` } });
    rr = await RrProc.start(m.rr.ns, { IP: m.rr.ipv4, CLUSTER_ID: CLUSTER, AS: String(AS), NODENAME: 'rr1', ETCD_ENDPOINTS: etcd.endpoint });
    c1 = await Bird.start(m.c1.ns, birdClient(m.c1.ipv4, m.rr.ipv4, true));
    c2 = await Bird.start(m.c2.ns, birdClient(m.c2.ipv4, m.rr.ipv4, true));
    birdRx = await Bird.start(m.birdRx.ns, birdClient(m.birdRx.ipv4, m.rr.ipv4, false, true));
    goRx = await Gobgp.start(
      m.goRx.ns,
      gobgpConfig({ as: AS, routerId: m.goRx.ipv4, port: 179, localAddresses: [m.goRx.ipv4], neighbors: [{ address: m.rr.ipv4, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast'], addPaths: { receive: true } }] }),
    );
    await waitAll('RR sessions', [m.c1, m.c2, m.birdRx, m.goRx], async (x) => (await rr.peers()).some((p) => p.address === x.ipv4 && p.state === 'Established'), 90_000);
  }, 180_000);

  afterAll(() => stopEach(goRx, birdRx, c2, c1, rr, etcd, lab));

  it('BIRD with `add paths rx` holds both reflected paths, one per announcing client', async () => {
    const hops = await waitFor('both paths in BIRD', async () => {
      const h = await birdHops(birdRx);
      return h.length === 2 ? h : undefined;
    }, 30_000);
    expect(hops).toEqual([m.c1.ipv4, m.c2.ipv4].sort());
  });

  it('GoBGP with add-paths receive holds both reflected paths', async () => {
    const hops = await waitFor('both paths in GoBGP', async () => {
      const h = await gobgpHops();
      return h.length === 2 ? h : undefined;
    }, 30_000);
    expect(hops).toEqual([m.c1.ipv4, m.c2.ipv4].sort());
  });

  it('clients without ADD-PATH get the best path only: one of the two announcers gets the other’s path, the other (its path is the best) gets none', async () => {
    const got = await waitFor('the best path at an announcer', async () => {
      const at = async (b: Bird) => (await b.routes()).filter((r) => r.prefix === PREFIX && r.protocol === 'reflector').map((r) => r.attrs['BGP.next_hop']);
      const [r1, r2] = [await at(c1), await at(c2)];
      return r1.length + r2.length ? { r1, r2 } : undefined;
    }, 30_000);
    // The reflector's best path is one client's: sent to the other only (never back to its origin).
    expect(got.r1.length + got.r2.length).toBe(1);
    if (got.r1.length) expect(got.r1).toEqual([m.c2.ipv4]);
    else expect(got.r2).toEqual([m.c1.ipv4]);
  });

  it('one announcing client gone: exactly its path is withdrawn at both receivers, the other stays', async () => {
    await c1.stop();
    await waitFor('one path left at both', async () => {
      const [b, g] = [await birdHops(birdRx), await gobgpHops()];
      return b.length === 1 && g.length === 1 ? true : undefined;
    }, 30_000);
    expect(await birdHops(birdRx)).toEqual([m.c2.ipv4]);
    expect(await gobgpHops()).toEqual([m.c2.ipv4]);
  });
});
