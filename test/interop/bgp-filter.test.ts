// BGPFilter (Calico 3.25+) against a real BIRD 2 ToR: import rules reject part of the ToR's routes
// — exactly those never reach the route sink (what tortie-node programs into the kernel) — and an
// export rule hides one of our pools from the ToR while the other is still advertised; a changed
// filter applies on the next configuration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const TOR_AS = 65010;
const TOR_V4 = ['0.0.0.0/0', '198.18.0.0/15', '198.51.100.0/24', '198.51.100.128/25', '203.0.113.0/24'];
const TOR_V6 = ['::/0', '2001:db8:18::/48', '2001:db8:19::/64'];

const torConf = (t: LabMember, node: LabMember): string => `router id ${t.ipv4};
protocol device {}
protocol static s4 { ipv4; ${TOR_V4.map((p) => `route ${p} blackhole;`).join(' ')} }
protocol static s6 { ipv6; ${TOR_V6.map((p) => `route ${p} blackhole;`).join(' ')} }
protocol bgp node { local ${t.ipv4} as ${TOR_AS}; neighbor ${node.ipv4} as ${AS}; hold time 9; keepalive time 3;
  connect retry time 1; error wait time 1,2; ipv4 { import all; export all; }; }
protocol bgp node6 { local ${t.ipv6} as ${TOR_AS}; neighbor ${node.ipv6} as ${AS}; hold time 9; keepalive time 3;
  connect retry time 1; error wait time 1,2; ipv6 { import all; export all; }; }
`;

/** Two filters, applied in this order: the first rule that matches decides. */
const FILTERS = [
  {
    name: 'tor-in',
    spec: {
      importV4: [
        // Accept the one /25 inside the range the next rule rejects: first match wins.
        { action: 'Accept' as const, matchOperator: 'Equal' as const, cidr: '198.51.100.128/25' },
        { action: 'Reject' as const, matchOperator: 'In' as const, cidr: '198.51.100.0/24' },
        { action: 'Reject' as const, matchOperator: 'Equal' as const, cidr: '203.0.113.0/24' },
      ],
      importV6: [{ action: 'Reject' as const, matchOperator: 'In' as const, cidr: '2001:db8::/32', prefixLength: { min: 64, max: 64 } }],
      exportV4: [{ action: 'Reject' as const, matchOperator: 'In' as const, cidr: '10.79.128.0/18' }],
    },
  },
  // Never reached for 198.18.0.0/15 (tor-in does not match it): the default accepts it.
  { name: 'tor-in-2', spec: { importV4: [{ action: 'Reject' as const, matchOperator: 'In' as const, cidr: '203.0.113.0/24' }] } },
];

describe('interop: BGPFilter with a BIRD ToR', () => {
  let lab: BgpLab;
  let tor: Bird;
  let speaker: SpeakerProc;
  let me: LabMember;
  let t: LabMember;

  const config = (filters = FILTERS): SpeakerFileConfig => ({
    asNumber: AS,
    routerId: me.ipv4,
    ...SHORT_TIMERS,
    peers: [
      { address: t.ipv4, asNumber: TOR_AS, type: 'global', filters },
      { address: t.ipv6, asNumber: TOR_AS, type: 'global', filters },
    ],
    // Two pools' blocks: the export rule hides the second from the ToR.
    originate: [{ prefix: '10.79.64.0/26' }, { prefix: '10.79.128.0/26' }],
  });

  const installed = async (): Promise<string[]> => (await speaker.installed()).map((i) => i.prefix).sort();

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'bf', members: 2, v4Base: '10.79.0', v6Base: 'fd79::' });
    [me, t] = lab.members;
    tor = await Bird.start(t.ns, torConf(t, me));
    speaker = await SpeakerProc.start(me.ns, config());
  });

  afterAll(() => stopEach(speaker, tor, lab));

  it('routes the import rules reject are exactly the ones missing from the installed table', async () => {
    await waitPeerState(speaker, t.ipv4, 'Established');
    await waitPeerState(speaker, t.ipv6, 'Established');
    const want = ['0.0.0.0/0', '198.18.0.0/15', '198.51.100.128/25', '::/0', '2001:db8:18::/48'].sort();
    await waitFor('accepted ToR routes installed', async () => {
      const i = await installed();
      return want.every((w) => i.includes(w)) ? i : undefined;
    });
    // Give any wrongly accepted route the same chance to arrive, then compare exactly.
    await tor.waitEstablished(['node', 'node6']);
    expect(await installed()).toEqual(want);
  });

  it('the export rule hides one pool from the ToR; the other is advertised', async () => {
    const rs = await waitFor('our pool at the ToR', async () => {
      const x = await tor.routes();
      return x.some((r) => r.prefix === '10.79.64.0/26') ? x : undefined;
    });
    expect(rs.some((r) => r.prefix === '10.79.128.0/26')).toBe(false);
  });

  it('without the filters every route is installed and both pools reach the ToR', async () => {
    speaker.reconfigure(config([]));
    const all = [...TOR_V4, ...TOR_V6].sort();
    await waitFor('all ToR routes installed', async () => {
      const i = await installed();
      return all.every((w) => i.includes(w)) ? i : undefined;
    });
    await waitFor('both pools at the ToR', async () => {
      const x = await tor.routes();
      return x.some((r) => r.prefix === '10.79.128.0/26') ? x : undefined;
    });
  });
});
