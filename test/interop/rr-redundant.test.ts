// A mixed cluster (two tortie speakers + one BIRD node) behind two tortie-rr sharing one cluster
// ID, wired from the datastore (mesh off, BGPPeer nodeSelector all() / peerSelector
// route-reflector == 'true'). Every client holds each other client's route from BOTH reflectors;
// SIGKILL one reflector and no client loses a route, even sampled every 100 ms through the
// failover (clients run without graceful restart, so this is the second copy, not stale routes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdCtl, RrProc, waitAll } from './rr-proc.js';
import { SpeakerProc, v4Speaker } from './speaker-proc.js';

const AS = 64512;
const CLUSTER = '244.0.0.1';
const block = (i: number): string => `10.61.${i}.0/26`;

function birdClient(me: LabMember, rrs: LabMember[], i: number): string {
  return `router id ${me.ipv4};
protocol device {}
protocol direct { ipv4; interface "eth0"; }
protocol static s4 { ipv4; route ${block(i)} blackhole; }
template bgp t { local ${me.ipv4} as ${AS}; hold time 6; keepalive time 2; connect retry time 2; error wait time 1,4;
  ipv4 { import all; export where proto = "s4"; }; }
${rrs.map((r, k) => `protocol bgp refl${k} from t { neighbor ${r.ipv4} as ${AS}; }`).join('\n')}
`;
}

describe('interop: two tortie-rr with one cluster id, SIGKILL one', () => {
  let lab: BgpLab;
  let etcd: EtcdServer;
  const rrs: RrProc[] = [];
  const speakers: SpeakerProc[] = [];
  let bird: Bird;
  let mRr: LabMember[];
  let mClients: LabMember[];

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'rrd', members: 6, v4Base: '10.83.0', v6Base: 'fd83::' });
    const mEtcd = lab.members[0];
    mRr = lab.members.slice(1, 3);
    mClients = lab.members.slice(3);
    etcd = await startEtcd({ netns: mEtcd.ns, host: mEtcd.ipv4 });
    const ctl = new EtcdCtl(mEtcd.ns, etcd.endpoint);
    await ctl.putResource('bgpconfigurations', 'BGPConfiguration', 'default', { nodeToNodeMeshEnabled: false, asNumber: AS });
    await ctl.putResource('bgppeers', 'BGPPeer', 'peer-with-rrs', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" });
    for (const [i, m] of mClients.entries()) await ctl.putResource('nodes', 'Node', `client-${i}`, { bgp: { ipv4Address: `${m.ipv4}/24` } });
    for (const [k, m] of mRr.entries()) rrs.push(await RrProc.start(m.ns, { IP: m.ipv4, CLUSTER_ID: CLUSTER, NODENAME: `rr-${k}`, ETCD_ENDPOINTS: etcd.endpoint }));
    const toRrs = mRr.map((r) => ({ name: `Node_${r.ipv4.replace(/\./g, '_')}`, address: r.ipv4, asNumber: AS, type: 'node' as const }));
    for (const [i, m] of mClients.slice(0, 2).entries()) speakers.push(await SpeakerProc.start(m.ns, v4Speaker(m.ipv4, AS, toRrs, [{ prefix: block(i) }])));
    bird = await Bird.start(mClients[2].ns, birdClient(mClients[2], mRr, 2));
  }, 150_000);

  afterAll(() => stopEach(...speakers, bird, ...rrs, etcd, lab));

  /** Prefixes a client holds as best (installed / BIRD's primary route). */
  const held = async (i: number): Promise<Set<string>> => {
    if (i < 2) return new Set((await speakers[i].installed()).map((r) => r.prefix));
    return new Set((await bird.routes()).filter((r) => r.protocol?.startsWith('refl')).map((r) => r.prefix));
  };
  const others = (i: number): string[] => [0, 1, 2].filter((j) => j !== i).map(block);

  it('the reflectors peer with each other (non-clients: same cluster) and with every client', async () => {
    await waitAll('RR sessions', rrs, async (r) => {
      const ps = await r.peers();
      return ps.length === 4 && ps.every((p) => p.state === 'Established');
    }, 60_000);
    const ps = await rrs[0].peers();
    expect(ps.map((p) => p.address).sort()).toEqual([mRr[1].ipv4, ...mClients.map((m) => m.ipv4)].sort());
  });

  it('every client holds every other client’s route from both reflectors', async () => {
    for (const [i, s] of speakers.entries()) {
      await waitFor(`client ${i}: two copies of each`, async () => {
        const rs = await s.routes();
        return others(i).every((p) => mRr.every((r) => rs.some((x) => x.prefix === p && x.source === r.ipv4))) ? true : undefined;
      }, 30_000);
      const rs = await s.routes();
      // NEXT_HOP is the originating client on both copies: reflection never rewrites it.
      for (const j of [0, 1, 2].filter((x) => x !== i)) expect(rs.filter((x) => x.prefix === block(j)).map((x) => x.nextHop)).toEqual([mClients[j].ipv4, mClients[j].ipv4]);
    }
    await waitFor('BIRD: two copies of each', async () => {
      const rs = (await bird.routes()).filter((r) => r.protocol?.startsWith('refl'));
      return others(2).every((p) => rs.filter((r) => r.prefix === p).length === 2) ? true : undefined;
    }, 30_000);
    for (let i = 0; i < 3; i++) expect([...(await held(i))].filter((p) => p !== block(i)).sort()).toEqual(others(i).sort());
  });

  it('SIGKILL one reflector: no client loses a route at any sample', async () => {
    const missing: string[] = [];
    let sampling = true;
    const sampler = (async (): Promise<number> => {
      let n = 0;
      while (sampling) {
        for (let i = 0; i < 3; i++) {
          const h = await held(i);
          for (const p of others(i)) if (!h.has(p)) missing.push(`client ${i} lacked ${p} at sample ${n}`);
        }
        n++;
        await new Promise((r) => setTimeout(r, 100));
      }
      return n;
    })();
    await new Promise((r) => setTimeout(r, 500));
    await rrs[0].kill('SIGKILL');
    // Each client notices (TCP reset) and drops the dead reflector's copies.
    await waitFor('clients dropped rr-0', async () => {
      for (const s of speakers) if ((await s.peers()).find((p) => p.address === mRr[0].ipv4)?.state === 'Established') return undefined;
      return (await bird.protocol('refl0'))?.info === 'Established' ? undefined : true;
    }, 30_000);
    await waitFor('only rr-1 copies left', async () => {
      for (const s of speakers) if ((await s.routes()).some((x) => x.source === mRr[0].ipv4)) return undefined;
      return true;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    sampling = false;
    const samples = await sampler;
    expect(samples).toBeGreaterThan(5);
    expect(missing).toEqual([]);
    for (const [i, s] of speakers.entries()) {
      const inst = await s.installed();
      for (const p of others(i)) expect(inst.find((r) => r.prefix === p)?.sourcePeer).toBe(mRr[1].ipv4);
    }
  });
});
