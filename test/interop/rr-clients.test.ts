// tortie-rr against real clients: etcd in one namespace, tortie-rr in another (registered as a
// Node with routeReflectorClusterID and label route-reflector=true, peers computed from BGPPeers
// with nodeSelector all() / peerSelector route-reflector == 'true', mesh off), and BIRD 2, GoBGP 3
// and our own speaker as its clients. Proves RFC 4456 reflection on the wire (ORIGINATOR_ID,
// CLUSTER_LIST, NEXT_HOP untouched), loop prevention against BIRD, no kernel routes on the RR,
// `tortiectl node status` against the RR, and a clean SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeStatus } from '../../ctl/commands/node-status.js';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { run } from '../harness/exec.js';
import { Gobgp, gobgpConfig, pathAttr } from '../harness/gobgp.js';
import { EtcdCtl, RrProc, waitAll } from './rr-proc.js';
import { SpeakerProc, v4Speaker, waitPeerState } from './speaker-proc.js';

const AS = 64512;
const CLUSTER = '244.0.0.1';

function birdClient(me: LabMember, rr: string, extra = ''): string {
  return `router id ${me.ipv4};
protocol device {}
protocol direct { ipv4; interface "eth0"; }
protocol static s4 { ipv4; route 10.60.3.0/26 blackhole; ${extra} }
protocol bgp reflector { local ${me.ipv4} as ${AS}; neighbor ${rr} as ${AS}; hold time 6; keepalive time 2;
  connect retry time 2; error wait time 1,4; ipv4 { import all; export where proto = "s4"; }; }
`;
}

function gobgpClient(me: LabMember, rr: string): string {
  return gobgpConfig({ as: AS, routerId: me.ipv4, port: 179, localAddresses: [me.ipv4], neighbors: [{ address: rr, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 2 }] });
}

describe('interop: BIRD, GoBGP and tortie as clients of tortie-rr', () => {
  let lab: BgpLab;
  let etcd: EtcdServer;
  let ctl: EtcdCtl;
  let rr: RrProc;
  let bird: Bird;
  let gobgp: Gobgp;
  let ours: SpeakerProc;
  let mRr: LabMember;
  let mBird: LabMember;
  let mGo: LabMember;
  let mOurs: LabMember;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'rrc', members: 5, v4Base: '10.81.0', v6Base: 'fd81::' });
    const [mEtcd] = lab.members;
    [, mRr, mBird, mGo, mOurs] = lab.members;
    etcd = await startEtcd({ netns: mEtcd.ns, host: mEtcd.ipv4 });
    ctl = new EtcdCtl(mEtcd.ns, etcd.endpoint);
    // Calico's RR topology: mesh off, every node peers with every reflector (and they peer back).
    await ctl.putResource('bgpconfigurations', 'BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false, asNumber: AS });
    await ctl.putResource('bgppeers', 'BGPPeer', 'peer-with-rrs', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" });
    for (const [name, m] of [['bird-node', mBird], ['gobgp-node', mGo], ['tortie-node', mOurs]] as const)
      await ctl.putResource('nodes', 'Node', name, { bgp: { ipv4Address: `${m.ipv4}/24` } });
    rr = await RrProc.start(mRr.ns, { IP: mRr.ipv4, CLUSTER_ID: CLUSTER, AS: String(AS), NODENAME: 'rr1', ETCD_ENDPOINTS: etcd.endpoint });
    bird = await Bird.start(mBird.ns, birdClient(mBird, mRr.ipv4));
    gobgp = await Gobgp.start(mGo.ns, gobgpClient(mGo, mRr.ipv4));
    await gobgp.cli(['global', 'rib', 'add', '10.60.4.0/26']);
    ours = await SpeakerProc.start(
      mOurs.ns,
      v4Speaker(mOurs.ipv4, AS, [{ name: `Node_${mRr.ipv4.replace(/\./g, '_')}`, address: mRr.ipv4, asNumber: AS, type: 'node' }], [{ prefix: '10.60.5.0/26' }]),
    );
  }, 120_000);

  afterAll(() => stopEach(ours, gobgp, bird, rr, etcd, lab));

  it('registers itself as a Node with the cluster id and the route-reflector label', async () => {
    const doc = await waitFor('rr1 Node', async () => ctl.get('/calico/resources/v3/projectcalico.org/nodes/rr1'));
    const n = JSON.parse(doc) as { metadata: { labels?: Record<string, string> }; spec: { bgp?: Record<string, unknown> } };
    expect(n.metadata.labels).toEqual({ 'route-reflector': 'true' });
    expect(n.spec.bgp).toMatchObject({ ipv4Address: `${mRr.ipv4}/32`, routeReflectorClusterID: CLUSTER, asNumber: AS });
  });

  it('peers with every node from the datastore and all sessions come up', async () => {
    await waitAll('RR sessions', [mBird, mGo, mOurs], async (m) => (await rr.peers()).some((p) => p.address === m.ipv4 && p.state === 'Established'), 60_000);
    await waitPeerState(ours, mRr.ipv4, 'Established');
    const r = await nodeStatus(rr.api);
    expect(r.code).toBe(0);
    for (const m of [mBird, mGo, mOurs]) expect(r.text).toMatch(new RegExp(`\\| ${m.ipv4.replace(/\./g, '\\.')} +\\| node specific +\\| up +\\|`));
  });

  it('the stock `gobgp` CLI reads tortie-rr: its clients established, every client route in its table', async () => {
    const cli = async (args: string[]): Promise<string> => (await run('ip', ['netns', 'exec', mRr.ns, 'gobgp', ...args])).stdout;
    const up = (out: string, m: LabMember): boolean => new RegExp(`^${m.ipv4.replace(/\./g, '\\.')}\\s+${AS}\\s+\\S+\\s+Establ`, 'm').test(out);
    await waitFor('every client Established in `gobgp neighbor`', async () => {
      const out = await cli(['neighbor']);
      return [mBird, mGo, mOurs].every((m) => up(out, m)) ? true : undefined;
    }, 60_000);
    const rib = await waitFor('client routes in tortie-rr', async () => {
      const out = await cli(['global', 'rib']);
      return ['10.60.3.0/26', '10.60.4.0/26', '10.60.5.0/26'].every((p) => out.includes(p)) ? out : undefined;
    });
    expect(rib).toMatch(new RegExp(`^\\*> 10\\.60\\.4\\.0/26 +${mGo.ipv4.replace(/\./g, '\\.')} `, 'm'));
    expect(await cli(['global'])).toContain(`AS:        ${AS}`);
  });

  it('BIRD receives the others’ routes reflected: NEXT_HOP kept, ORIGINATOR_ID set, CLUSTER_LIST = our cluster id', async () => {
    for (const [prefix, origin] of [['10.60.4.0/26', mGo], ['10.60.5.0/26', mOurs]] as const) {
      const r = await waitFor(`${prefix} in BIRD`, async () => (await bird.routes()).find((x) => x.prefix === prefix), 30_000);
      expect(r.attrs['BGP.next_hop']).toBe(origin.ipv4);
      expect(r.attrs['BGP.originator_id']).toBe(origin.ipv4);
      expect(r.attrs['BGP.cluster_list']).toBe(CLUSTER);
      expect(r.attrs['BGP.as_path']).toBe('');
    }
  });

  it('GoBGP receives the others’ routes reflected, with the same attributes', async () => {
    for (const [prefix, origin] of [['10.60.3.0/26', mBird], ['10.60.5.0/26', mOurs]] as const) {
      const paths = await waitFor(`${prefix} in GoBGP`, async () => (await gobgp.rib())[prefix], 30_000);
      const p = paths[0];
      expect(pathAttr(p, 3)).toMatchObject({ nexthop: origin.ipv4 });
      expect(pathAttr(p, 9)).toMatchObject({ value: origin.ipv4 });
      expect(pathAttr(p, 10)).toMatchObject({ value: [CLUSTER] });
    }
  });

  it('our speaker receives and installs the others’ routes with their own next hops', async () => {
    await waitFor('routes installed in our client', async () => {
      const inst = await ours.installed();
      const a = inst.find((i) => i.prefix === '10.60.3.0/26');
      const b = inst.find((i) => i.prefix === '10.60.4.0/26');
      return a && b ? [a, b] : undefined;
    }, 30_000);
    const inst = await ours.installed();
    expect(inst.find((i) => i.prefix === '10.60.3.0/26')?.nextHops).toEqual([mBird.ipv4]);
    expect(inst.find((i) => i.prefix === '10.60.4.0/26')?.nextHops).toEqual([mGo.ipv4]);
  });

  it('serves the GoBGP API: `gobgp neighbor` lists every client Established, as route-reflector clients', async () => {
    const out = (await run('ip', ['netns', 'exec', mRr.ns, 'gobgp', 'neighbor'])).stdout;
    for (const m of [mBird, mGo, mOurs]) expect(out).toMatch(new RegExp(`${m.ipv4.replace(/\./g, '\\.')}\\s+${AS}\\s+\\S+\\s+Establ`));
    expect((await run('ip', ['netns', 'exec', mRr.ns, 'gobgp', 'neighbor', mBird.ipv4])).stdout).toContain(`BGP neighbor is ${mBird.ipv4}, remote AS ${AS}, route-reflector-client`);
  });

  it('programs no kernel routes on the reflector', async () => {
    const { stdout } = await lab.exec(mRr, ['ip', '-4', 'route', 'show', 'table', 'all']);
    expect(stdout).not.toMatch(/10\.60\./);
  });

  it('loop prevention: a route from BIRD carrying our cluster id, or our router id as ORIGINATOR_ID, is dropped', async () => {
    await bird.reconfigure(
      birdClient(mBird, mRr.ipv4, `route 10.60.9.0/26 blackhole { bgp_cluster_list.add(${CLUSTER}); }; route 10.60.10.0/26 blackhole { bgp_originator_id = ${mRr.ipv4}; };`),
    );
    // A control prefix added in the same reload proves BIRD sent the batch.
    await bird.reconfigure(
      birdClient(mBird, mRr.ipv4, `route 10.60.9.0/26 blackhole { bgp_cluster_list.add(${CLUSTER}); }; route 10.60.10.0/26 blackhole { bgp_originator_id = ${mRr.ipv4}; }; route 10.60.11.0/26 blackhole;`),
    );
    await waitFor('control prefix reflected to GoBGP', async () => ((await gobgp.rib())['10.60.11.0/26'] ? true : undefined), 30_000);
    const exported = await bird.cmd('show route export reflector');
    expect(exported).toContain('10.60.9.0/26');
    expect(exported).toContain('10.60.10.0/26');
    const routes = await rr.routes();
    expect(routes.some((r) => r.prefix === '10.60.9.0/26')).toBe(false);
    expect(routes.some((r) => r.prefix === '10.60.10.0/26')).toBe(false);
    const rib = await gobgp.rib();
    expect(rib['10.60.9.0/26']).toBeUndefined();
    expect(rib['10.60.10.0/26']).toBeUndefined();
    const p = (await rr.peers()).find((x) => x.address === mBird.ipv4);
    expect(p && p.prefixesReceived - p.prefixesAccepted).toBe(2);
  });

  it('SIGTERM: Cease to every client, exit 0', async () => {
    await rr.kill('SIGTERM');
    expect(rr.running).toBe(false);
    expect(rr.log()).toMatch(/stopping/);
    await waitFor('BIRD saw the shutdown', async () => ((await bird.protocol('reflector'))?.info.match(/Administrative shutdown|Received: Administrative/i) ? true : undefined), 15_000);
  });
});
