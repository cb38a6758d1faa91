// BIRD 2 as a top-of-rack router over eBGP with every optional capability it has switched on
// (ADD-PATH, extended next hop, extended messages, long-lived GR, enhanced route refresh): the
// capabilities we do not use are parsed and ignored cleanly (sessions come up, nothing is
// negotiated that we did not offer, routes flow both ways), and the import policy accepts what a
// ToR sends — its default routes and prefixes reach the route sink, next hop the ToR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const TOR_AS = 65010;

function torConf(t: LabMember, node: LabMember): string {
  const caps = `hold time 9; keepalive time 3; connect retry time 1; error wait time 1,2;
  enable extended messages on; enable route refresh on; graceful restart on; long lived graceful restart on;`;
  return `router id ${t.ipv4};
protocol device {}
protocol static d4 { ipv4; route 0.0.0.0/0 blackhole; route 198.18.0.0/15 blackhole; }
protocol static d6 { ipv6; route ::/0 blackhole; route 2001:db8:18::/48 blackhole; }
protocol bgp node { local ${t.ipv4} as ${TOR_AS}; neighbor ${node.ipv4} as ${AS}; ${caps}
  ipv4 { import all; export all; add paths on; extended next hop on; }; }
protocol bgp node6 { local ${t.ipv6} as ${TOR_AS}; neighbor ${node.ipv6} as ${AS}; ${caps}
  ipv6 { import all; export all; add paths on; }; }
`;
}

describe('interop: BIRD as a ToR with every capability on', () => {
  let lab: BgpLab;
  let tor: Bird;
  let speaker: SpeakerProc;
  let me: LabMember;
  let t: LabMember;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'tor', members: 2, v4Base: '10.78.0', v6Base: 'fd78::' });
    [me, t] = lab.members;
    tor = await Bird.start(t.ns, torConf(t, me));
    const cfg: SpeakerFileConfig = {
      asNumber: AS,
      routerId: me.ipv4,
      ...SHORT_TIMERS,
      gracefulRestart: { restartTime: 120 },
      peers: [
        { name: 'Global_10_78_0_2', address: t.ipv4, asNumber: TOR_AS, type: 'global' },
        { name: 'Global_fd78__2', address: t.ipv6, asNumber: TOR_AS, type: 'global' },
      ],
      originate: [{ prefix: '10.78.64.0/26' }, { prefix: 'fd00:78::/122' }],
    };
    speaker = await SpeakerProc.start(me.ns, cfg);
  });

  afterAll(() => stopEach(speaker, tor, lab));

  it('sessions reach Established; we offer ADD-PATH receive only, extended next hop and extended messages not at all', async () => {
    await waitPeerState(speaker, t.ipv4, 'Established');
    await waitPeerState(speaker, t.ipv6, 'Established');
    await tor.waitEstablished(['node', 'node6']);
    const show = await tor.cmd('show protocols all node');
    // BIRD lists what it sent ("Local capabilities") and what we sent ("Neighbor capabilities").
    const neighbor = show.split(/Neighbor capabilities/)[1]?.split(/Session:/)[0] ?? '';
    expect(neighbor).toMatch(/Multiprotocol/);
    expect(neighbor).toMatch(/4-octet AS numbers/);
    // Calico's BIRD runs `add paths on`: we take several paths per prefix, and send one.
    expect(neighbor).toMatch(/ADD-PATH/);
    expect(neighbor).not.toMatch(/Extended next hop|Extended message/i);
    expect(show.split(/Local capabilities/)[1]).toMatch(/ADD-PATH/);
    // Nothing about the capabilities we do not understand made us complain.
    expect(speaker.log()).not.toMatch(/malformed capability|sending NOTIFICATION/);
  });

  it('the ToR default routes and prefixes reach the route sink with the ToR as next hop', async () => {
    const want = ['0.0.0.0/0', '198.18.0.0/15', '::/0', '2001:db8:18::/48'];
    const inst = await waitFor('ToR routes installed', async () => {
      const i = await speaker.installed();
      return want.every((w) => i.some((x) => x.prefix === w)) ? i : undefined;
    });
    expect(inst.find((i) => i.prefix === '0.0.0.0/0')).toMatchObject({ nextHops: [t.ipv4], sourcePeer: t.ipv4 });
    expect(inst.find((i) => i.prefix === '::/0')).toMatchObject({ nextHops: [t.ipv6], sourcePeer: t.ipv6 });
    const r = (await speaker.routes()).find((x) => x.prefix === '0.0.0.0/0');
    expect(r).toMatchObject({ asPath: String(TOR_AS), best: true });
  });

  it('the ToR has our prefixes with our AS and next hop, in one path each (no ADD-PATH ids)', async () => {
    const rs = await waitFor('our prefixes at the ToR', async () => {
      const x = await tor.routes();
      return x.some((r) => r.prefix === '10.78.64.0/26') && x.some((r) => r.prefix === 'fd00:78::/122') ? x : undefined;
    });
    const v4 = rs.filter((r) => r.prefix === '10.78.64.0/26');
    expect(v4).toHaveLength(1);
    expect(v4[0].attrs['BGP.as_path']).toBe(String(AS));
    expect(v4[0].attrs['BGP.next_hop']).toBe(me.ipv4);
    const v6 = rs.find((r) => r.prefix === 'fd00:78::/122');
    expect(v6?.attrs['BGP.next_hop']).toContain(me.ipv6);
  });

  it('a route refresh request from the ToR is answered with our table again', async () => {
    const received = async (): Promise<number> => {
      const m = /Import updates:\s+(\d+)/.exec(await tor.cmd('show protocols all node'));
      return m ? Number(m[1]) : -1;
    };
    const before = await received();
    expect(before).toBeGreaterThan(0);
    await tor.cmd('reload in node');
    await waitFor('table re-sent', async () => ((await received()) > before ? true : undefined), 20_000);
    expect((await speaker.peer(t.ipv4))?.state).toBe('Established');
    expect((await tor.routes()).some((r) => r.prefix === '10.78.64.0/26')).toBe(true);
  });
});
