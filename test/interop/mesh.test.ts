// A Calico-style full mesh: three of our speakers (each its own process in its own namespace)
// plus one BIRD, every side active so connection collisions happen and must leave exactly one
// session per pair. Then the mesh is turned off and must be torn down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import type { PeerConfig } from '../../bgp/speaker/types.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const meshName = (ip: string): string => `Mesh_${ip.replace(/[.:]/g, '_')}`;

async function bgpConnections(lab: BgpLab, m: LabMember): Promise<string[]> {
  const out = await lab.exec(m, ['ss', '-Htn', 'state', 'established', '( sport = :179 or dport = :179 )']);
  return out.stdout.split('\n').filter((l) => l.trim());
}

describe('interop: full mesh of three speakers and BIRD', () => {
  let lab: BgpLab;
  let bird: Bird;
  const speakers: SpeakerProc[] = [];
  let members: LabMember[];
  let birdM: LabMember;

  const cfgFor = (m: LabMember, i: number, mesh: boolean): SpeakerFileConfig => ({
    asNumber: AS,
    routerId: m.ipv4,
    families: [4],
    ...SHORT_TIMERS,
    connectRetryMax: 2,
    peers: mesh
      ? lab.members.filter((o) => o !== m).map((o): PeerConfig => ({ name: meshName(o.ipv4), address: o.ipv4, asNumber: AS, type: 'mesh' }))
      : [],
    originate: [{ prefix: `10.30.${i}.0/26` }],
  });

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'me', members: 4 });
    members = lab.members.slice(0, 3);
    birdM = lab.members[3];
    bird = await Bird.start(birdM.ns, `router id ${birdM.ipv4};
protocol device {}
protocol static s4 { ipv4; route 192.0.2.0/24 blackhole; }
template bgp mesh { local ${birdM.ipv4} as ${AS}; hold time 9; connect delay time 1; connect retry time 1; error wait time 1,2;
  ipv4 { import all; export all; next hop self; }; }
${members.map((m) => `protocol bgp ${meshName(m.ipv4)} from mesh { neighbor ${m.ipv4} as ${AS}; }`).join('\n')}
`);
    // Started without peers, then given the mesh at the same moment: everybody connects at once.
    for (const [i, m] of members.entries()) speakers.push(await SpeakerProc.start(m.ns, cfgFor(m, i + 1, false)));
  });

  afterAll(() => stopEach(...speakers, bird, lab));

  it('converges: every session Established, exactly one TCP connection per pair', async () => {
    for (const [i, s] of speakers.entries()) s.reconfigure(cfgFor(members[i], i + 1, true));
    for (const [i, s] of speakers.entries())
      for (const o of lab.members) if (o !== members[i]) await waitPeerState(s, o.ipv4, 'Established', 60_000);
    await waitFor('BIRD mesh up', async () => ((await bird.protocols()).filter((p) => p.info === 'Established').length === 3 ? true : undefined), 30_000);
    // Let any collision losers finish closing, then count.
    await waitFor('one connection per pair', async () => {
      for (const m of lab.members) if ((await bgpConnections(lab, m)).length !== 3) return undefined;
      return true;
    }, 15_000);
    for (const m of lab.members) expect(await bgpConnections(lab, m)).toHaveLength(3);
    // Everyone dialled everyone at once: the collisions really happened and were resolved (§6.8).
    const collisions = speakers.map((s) => (s.log().match(/Connection Collision Resolution/g) ?? []).length);
    expect(collisions.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('routes converge: each speaker installs the others\' prefixes, BIRD has all of ours', async () => {
    for (const [i, s] of speakers.entries()) {
      const want = ['192.0.2.0/24', ...members.map((_, j) => `10.30.${j + 1}.0/26`).filter((_, j) => j !== i)];
      const inst = await waitFor(`speaker ${i + 1} converged`, async () => {
        const got = await s.installed();
        return want.every((w) => got.some((g) => g.prefix === w)) ? got : undefined;
      }, 30_000);
      expect(inst.find((r) => r.prefix === '192.0.2.0/24')?.nextHops).toEqual([birdM.ipv4]);
      for (const [j, o] of members.entries()) if (j !== i) expect(inst.find((r) => r.prefix === `10.30.${j + 1}.0/26`)?.nextHops).toEqual([o.ipv4]);
      // iBGP split horizon: nothing learned from one mesh peer is passed to another.
      for (const p of await s.peers()) expect(p.prefixesAdvertised).toBe(1);
    }
    const br = await waitFor('BIRD has the speakers\' prefixes', async () => {
      const rs = await bird.routes();
      return members.every((_, j) => rs.some((r) => r.prefix === `10.30.${j + 1}.0/26`)) ? rs : undefined;
    }, 30_000);
    for (const [j, m] of members.entries()) expect(br.find((r) => r.prefix === `10.30.${j + 1}.0/26`)?.attrs['BGP.next_hop']).toBe(m.ipv4);
  });

  it('the sessions stay up (no collision flapping)', async () => {
    const before = await speakers[0].peers();
    await new Promise((r) => setTimeout(r, 3000));
    const after = await speakers[0].peers();
    expect(after.map((p) => [p.address, p.state, p.since])).toEqual(before.map((p) => [p.address, p.state, p.since]));
  });

  it('turning the mesh off tears every session down and withdraws the routes', async () => {
    for (const [i, s] of speakers.entries()) s.reconfigure(cfgFor(members[i], i + 1, false));
    await waitFor('speakers have no peers', async () => {
      for (const s of speakers) if ((await s.peers()).length) return undefined;
      return true;
    });
    await waitFor('BIRD sessions down', async () => ((await bird.protocols()).some((p) => p.info === 'Established') ? undefined : true), 20_000);
    await waitFor('BIRD lost our routes', async () => ((await bird.routes()).some((r) => r.prefix.startsWith('10.30.')) ? undefined : true));
    for (const s of speakers) expect(await s.installed()).toEqual([]);
    for (const m of lab.members) expect(await bgpConnections(lab, m)).toHaveLength(0);
  });
});
