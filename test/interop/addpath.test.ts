// ADD-PATH (RFC 7911) with real peers. A BIRD route reflector with `add paths` towards our speaker
// reflects the same prefix from two clients: both paths arrive (path identifiers on the wire) and
// sit side by side in our table, as the GoBGP API lists them. A client going away withdraws only
// its path. GoBGP as the reflector (add-paths send-max) likewise. That equal paths become one
// multipath kernel route is proven with felix in test/e2e/lab-ecmp.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteStatus } from '../../bgp/speaker/types.js';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { Gobgp, gobgpConfig } from '../harness/gobgp.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { SpeakerProc, v4Speaker, waitPeerState } from './speaker-proc.js';

const AS = 64512;
const PREFIX = '198.51.100.0/24';

const client = (me: string, rr: string): string => `router id ${me};
protocol device {}
protocol static s4 { ipv4; route ${PREFIX} blackhole; }
protocol bgp reflector { local ${me} as ${AS}; neighbor ${rr} as ${AS}; hold time 6; connect retry time 1; error wait time 1,2;
  ipv4 { import all; export all; next hop self; }; }
`;

const reflector = (me: string, clients: string[], tortie: string): string => `router id ${me};
protocol device {}
template bgp clients { local ${me} as ${AS}; rr client; hold time 6; connect retry time 1; error wait time 1,2; ipv4 { import all; export all; }; }
${clients.map((c, i) => `protocol bgp client${i} from clients { neighbor ${c} as ${AS}; }`).join('\n')}
protocol bgp tortie { local ${me} as ${AS}; neighbor ${tortie} as ${AS}; rr client; hold time 6; connect retry time 1; error wait time 1,2;
  ipv4 { import all; export all; add paths tx; }; }
`;

const hopsOf = (rs: RouteStatus[]): string[] => rs.filter((r) => r.prefix === PREFIX).map((r) => r.nextHop).sort();

/** GoBGP as the reflector: the clients are its route-reflector clients, ADD-PATH send towards us. */
const gobgpReflector = (me: string, clients: string[], tortie: string): string =>
  gobgpConfig({
    as: AS,
    routerId: me,
    neighbors: [
      ...clients.map((c) => ({ address: c, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 1, rrClusterId: me, families: ['ipv4-unicast'] })),
      { address: tortie, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast'], addPaths: { sendMax: 8 } },
    ],
  });

describe.each(['BIRD', 'GoBGP'] as const)('interop: ADD-PATH from a %s route reflector', (kind) => {
  let lab: BgpLab;
  let me: LabMember;
  let rr: LabMember;
  let c1: LabMember;
  let c2: LabMember;
  let speaker: SpeakerProc;
  const birds: Bird[] = [];
  let gobgp: Gobgp | undefined;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: kind === 'BIRD' ? 'apb' : 'apg', members: 4 });
    [me, rr, c1, c2] = lab.members as [LabMember, LabMember, LabMember, LabMember];
    if (kind === 'BIRD') birds.push(await Bird.start(rr.ns, reflector(rr.ipv4, [c1.ipv4, c2.ipv4], me.ipv4)));
    else gobgp = await Gobgp.start(rr.ns, gobgpReflector(rr.ipv4, [c1.ipv4, c2.ipv4], me.ipv4));
    birds.push(await Bird.start(c1.ns, client(c1.ipv4, rr.ipv4)));
    birds.push(await Bird.start(c2.ns, client(c2.ipv4, rr.ipv4)));
    speaker = await SpeakerProc.start(me.ns, v4Speaker(me.ipv4, AS, [{ name: 'Global_rr', address: rr.ipv4, asNumber: AS, type: 'global' }], []));
  });

  afterAll(() => stopEach(speaker, ...birds, ...(gobgp ? [gobgp] : []), lab));

  it('both reflected paths arrive, each with its next hop', async () => {
    await waitPeerState(speaker, rr.ipv4, 'Established');
    const hops = await waitFor('both paths installed', async () => {
      const h = hopsOf(await speaker.routes());
      return h.length === 2 ? h : undefined;
    });
    expect(hops).toEqual([c1.ipv4, c2.ipv4].sort());
  });

  it('a client going away withdraws its path only: the other next hop stays', async () => {
    await birds.find((b) => b.ns === c1.ns)?.stop();
    const hops = await waitFor('one path left', async () => {
      const h = hopsOf(await speaker.routes());
      return h.length === 1 ? h : undefined;
    });
    expect(hops).toEqual([c2.ipv4]);
  });
});
