// Our speakers as route-reflector clients of a BIRD 2 reflector: each installs the other's route
// with the originator's next hop (BIRD reflects, it does not rewrite), accepts BIRD's ORIGINATOR_ID /
// CLUSTER_LIST without flagging a loop, and a withdraw propagates through the reflector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerConfig } from '../../bgp/speaker/types.js';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { SpeakerProc, v4Speaker, waitPeerState } from './speaker-proc.js';

const AS = 64512;

function birdReflector(me: LabMember, clients: LabMember[]): string {
  return `router id ${me.ipv4};
protocol device {}
protocol direct { ipv4; interface "eth0"; }
template bgp c { local ${me.ipv4} as ${AS}; rr client; rr cluster id 244.0.0.9; hold time 6; keepalive time 2;
  connect retry time 2; error wait time 1,4; ipv4 { import all; export all; }; }
${clients.map((m, i) => `protocol bgp c${i} from c { neighbor ${m.ipv4} as ${AS}; }`).join('\n')}
`;
}

describe('interop: tortie speakers as clients of a BIRD reflector', () => {
  let lab: BgpLab;
  let bird: Bird;
  const speakers: SpeakerProc[] = [];
  let rr: LabMember;
  let clients: LabMember[];
  const toRr = (): PeerConfig[] => [{ name: `Global_${rr.ipv4.replace(/\./g, '_')}`, address: rr.ipv4, asNumber: AS, type: 'global' }];

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'rrb', members: 4, v4Base: '10.82.0', v6Base: 'fd82::' });
    [rr, ...clients] = lab.members;
    bird = await Bird.start(rr.ns, birdReflector(rr, clients));
    for (const [i, m] of clients.entries()) speakers.push(await SpeakerProc.start(m.ns, v4Speaker(m.ipv4, AS, toRr(), [{ prefix: `10.70.${i}.0/26` }])));
  }, 120_000);

  afterAll(() => stopEach(...speakers, bird, lab));

  it('every client installs every other client’s block with the originator as next hop', async () => {
    for (const s of speakers) await waitPeerState(s, rr.ipv4, 'Established');
    for (const [i, s] of speakers.entries()) {
      await waitFor(`client ${i} has all blocks`, async () => {
        const inst = await s.installed();
        return clients.every((_, j) => j === i || inst.some((r) => r.prefix === `10.70.${j}.0/26`)) ? true : undefined;
      }, 30_000);
      const inst = await s.installed();
      for (const [j, m] of clients.entries()) {
        if (j === i) continue;
        expect(inst.find((r) => r.prefix === `10.70.${j}.0/26`)).toMatchObject({ nextHops: [m.ipv4], sourcePeer: rr.ipv4 });
      }
    }
  });

  it('BIRD reflected with ORIGINATOR_ID and its cluster id (seen in its own export view)', async () => {
    const out = await bird.cmd('show route all export c1');
    expect(out).toContain('10.70.0.0/26');
    // BIRD adds ORIGINATOR_ID / CLUSTER_LIST on the wire; our speaker accepted the route (above),
    // and nothing is treated as a loop on our side.
    for (const s of speakers) {
      const p = (await s.peers())[0];
      expect(p.prefixesReceived).toBe(p.prefixesAccepted);
    }
  });

  it('a withdrawn block disappears from every other client', async () => {
    speakers[0].reconfigure(v4Speaker(clients[0].ipv4, AS, toRr(), []));
    for (const s of speakers.slice(1)) await waitFor('withdrawn', async () => ((await s.installed()).some((r) => r.prefix === '10.70.0.0/26') ? undefined : true), 20_000);
  });
});
