// Our speaker against real BIRD 2 in network namespaces: iBGP (IPv4 and IPv6) and eBGP sessions,
// routes both ways with their attributes, withdraws, hold-time expiry of a frozen peer, a
// NOTIFICATION from the peer logged with its meaning, and graceful restart (we are the helper).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { nodeStatus } from '../../ctl/commands/node-status.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const EBGP_AS = 65001;

function birdIbgp(me: string, me6: string, peer: string, peer6: string, statics = true): string {
  return `router id ${me};
protocol device {}
${statics ? `protocol static s4 { ipv4; route 192.0.2.0/24 blackhole; route 198.51.100.0/25 blackhole; }
protocol static s6 { ipv6; route 2001:db8:2::/48 blackhole; }` : ''}
template bgp t { local as ${AS}; hold time 6; keepalive time 2; connect retry time 2; error wait time 1,4;
  graceful restart on; graceful restart time 30; }
protocol bgp tortie from t { local ${me}; neighbor ${peer} as ${AS}; ipv4 { import all; export all; next hop self; }; }
protocol bgp tortie6 from t { local ${me6}; neighbor ${peer6} as ${AS}; ipv6 { import all; export all; next hop self; }; }
`;
}

function birdEbgp(me: string, me6: string, peer: string, peer6: string): string {
  return `router id ${me};
protocol device {}
protocol static s4 { ipv4; route 203.0.113.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:e::/48 blackhole; }
protocol bgp tortie { local ${me} as ${EBGP_AS}; neighbor ${peer} as ${AS}; hold time 6; keepalive time 2;
  connect retry time 2; error wait time 1,4;
  ipv4 { import all; export filter { bgp_ext_community.add((rt, ${EBGP_AS}, 7)); bgp_ext_community.add((generic, 0x43000000, 1)); accept; }; }; }
protocol bgp tortie6 { local ${me6} as ${EBGP_AS}; neighbor ${peer6} as ${AS}; hold time 6; keepalive time 2;
  connect retry time 2; error wait time 1,4; ipv6 { import all; export all; }; }
`;
}

describe('interop: BIRD 2', () => {
  let lab: BgpLab;
  let bird: Bird;
  let ebgp: Bird;
  let speaker: SpeakerProc;
  let cfg: SpeakerFileConfig;
  let me: LabMember;
  let b: LabMember;
  let e: LabMember;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'bi', members: 3 });
    me = lab.members[0];
    b = lab.members[1];
    e = lab.members[2];
    cfg = {
      asNumber: AS,
      routerId: me.ipv4,
      listenAddresses: ['::'],
      ...SHORT_TIMERS,
      connectRetryMax: 4,
      gracefulRestart: { restartTime: 30 },
      peers: [
        { name: 'Global_b', address: b.ipv4, asNumber: AS, type: 'global' },
        { name: 'Global_b6', address: b.ipv6, asNumber: AS, type: 'global' },
        { name: 'Global_e', address: e.ipv4, asNumber: EBGP_AS, type: 'global' },
        { name: 'Global_e6', address: e.ipv6, asNumber: EBGP_AS, type: 'node' },
      ],
      originate: [
        { prefix: '10.10.1.0/26', communities: ['64512:100'] },
        { prefix: '10.10.2.0/26', localPref: 300 },
        { prefix: 'fd00:10:1::/122', communities: ['64512:6'] },
      ],
    };
    bird = await Bird.start(b.ns, birdIbgp(b.ipv4, b.ipv6, me.ipv4, me.ipv6));
    ebgp = await Bird.start(e.ns, birdEbgp(e.ipv4, e.ipv6, me.ipv4, me.ipv6));
    speaker = await SpeakerProc.start(me.ns, cfg);
  });

  afterAll(() => stopEach(speaker, bird, ebgp, lab));

  it('reaches Established with iBGP v4, iBGP v6 and eBGP peers', async () => {
    await waitPeerState(speaker, b.ipv4, 'Established');
    await waitPeerState(speaker, b.ipv6, 'Established');
    await waitPeerState(speaker, e.ipv4, 'Established');
    await waitPeerState(speaker, e.ipv6, 'Established');
    await waitFor('BIRD protocols up', async () => {
      const ps = await bird.protocols();
      return ps.filter((p) => p.info === 'Established').length === 2 ? true : undefined;
    });
  });

  it('`tortiectl node status` shows the process and both tables', async () => {
    const r = await nodeStatus(speaker.api);
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/^Tortie process is running\.\n\nIPv4 BGP status\n/);
    expect(r.text).toMatch(new RegExp(`\\| ${b.ipv4.replace(/\./g, '\\.')} +\\| global +\\| up +\\| \\d\\d:\\d\\d:\\d\\d +\\| Established +\\|`));
    expect(r.text).toContain(`| ${e.ipv4}`);
    expect(r.text).toMatch(/IPv6 BGP status\n\+/);
    expect(r.text).toContain(`| ${b.ipv6}`);
    expect(r.text).toMatch(new RegExp(`\\| ${e.ipv6} +\\| node specific +\\| up`));
  });

  it('our prefixes appear in BIRD with the right AS_PATH, NEXT_HOP, LOCAL_PREF and communities (iBGP)', async () => {
    const r = await waitFor('10.10.1.0/26 in BIRD', async () => (await bird.routes()).find((x) => x.prefix === '10.10.1.0/26'));
    expect(r.attrs['BGP.as_path']).toBe('');
    expect(r.attrs['BGP.next_hop']).toBe(me.ipv4);
    expect(r.attrs['BGP.local_pref']).toBe('100');
    expect(r.attrs['BGP.community']).toBe('(64512,100)');
    expect(r.attrs['BGP.origin']).toBe('IGP');
    const r6 = await waitFor('fd00:10:1::/122 in BIRD', async () => (await bird.routes()).find((x) => x.prefix === 'fd00:10:1::/122'));
    expect(r6.attrs['BGP.next_hop']).toContain(me.ipv6);
    expect(r6.attrs['BGP.community']).toBe('(64512,6)');
  });

  it('eBGP: AS_PATH is our AS, next hop is us, our LOCAL_PREF stays inside the AS', async () => {
    const r = await waitFor('10.10.1.0/26 in eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '10.10.1.0/26'));
    expect(r.attrs['BGP.as_path']).toBe(String(AS));
    expect(r.attrs['BGP.next_hop']).toBe(me.ipv4);
    // BIRD gives eBGP-learned routes its default 100; had we sent our LOCAL_PREF 300 it would show.
    const lp = await waitFor('10.10.2.0/26 in eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '10.10.2.0/26'));
    expect(lp.attrs['BGP.local_pref']).toBe('100');
    const lpI = await waitFor('10.10.2.0/26 in iBGP BIRD', async () => (await bird.routes()).find((x) => x.prefix === '10.10.2.0/26'));
    expect(lpI.attrs['BGP.local_pref']).toBe('300');
    // What we learned over iBGP from the other BIRD goes out to eBGP with our AS prepended.
    const t = await waitFor('192.0.2.0/24 in eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '192.0.2.0/24'));
    expect(t.attrs['BGP.as_path']).toBe(String(AS));
    expect(t.attrs['BGP.next_hop']).toBe(me.ipv4);
    // IPv6 over eBGP: MP_REACH with our global address as next hop.
    const v6 = await waitFor('fd00:10:1::/122 in eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === 'fd00:10:1::/122'));
    expect(v6.attrs['BGP.as_path']).toBe(String(AS));
    expect(v6.attrs['BGP.next_hop']).toContain(me.ipv6);
  });

  it('their prefixes reach our Loc-RIB and the route sink', async () => {
    await waitFor('BIRD routes installed', async () => {
      const inst = await speaker.installed();
      const want = ['192.0.2.0/24', '198.51.100.0/25', '2001:db8:2::/48', '203.0.113.0/24', '2001:db8:e::/48'];
      return want.every((w) => inst.some((i) => i.prefix === w)) ? inst : undefined;
    });
    const inst = await speaker.installed();
    expect(inst.find((i) => i.prefix === '192.0.2.0/24')).toMatchObject({ nextHops: [b.ipv4], sourcePeer: b.ipv4 });
    expect(inst.find((i) => i.prefix === '2001:db8:2::/48')).toMatchObject({ nextHops: [b.ipv6] });
    expect(inst.find((i) => i.prefix === '203.0.113.0/24')).toMatchObject({ nextHops: [e.ipv4] });
    expect(inst.find((i) => i.prefix === '2001:db8:e::/48')).toMatchObject({ nextHops: [e.ipv6], sourcePeer: e.ipv6 });
    const routes = await speaker.routes();
    const ext = routes.find((r) => r.prefix === '203.0.113.0/24');
    expect(ext).toMatchObject({ asPath: String(EBGP_AS), best: true });
    // The iBGP-learned route is not reflected back to the iBGP peer (split horizon) — it came from there.
    const peers = await speaker.peers();
    expect(peers.find((p) => p.address === b.ipv4)?.prefixesAccepted).toBe(2);
  });

  it('extended communities (RFC 4360) from the eBGP peer are kept and re-advertised to the iBGP peer', async () => {
    const r = await waitFor('203.0.113.0/24 in the iBGP BIRD', async () => (await bird.routes()).find((x) => x.prefix === '203.0.113.0/24'));
    // The non-transitive one BIRD adds does not cross its eBGP session (RFC 4360 §2, as our export does).
    expect(r.attrs['BGP.ext_community']).toBe(`(rt, ${EBGP_AS}, 7)`);
    // Kept in our table: re-advertised above. (The GoBGP API does not show extended communities yet.)
  });

  it('withdraws propagate both ways', async () => {
    speaker.reconfigure({ ...cfg, originate: cfg.originate?.filter((o) => o.prefix !== '10.10.2.0/26') });
    await waitFor('10.10.2.0/26 gone from BIRD', async () => ((await bird.routes()).some((x) => x.prefix === '10.10.2.0/26') ? undefined : true));
    expect((await bird.routes()).some((x) => x.prefix === '10.10.1.0/26')).toBe(true);
    await bird.reconfigure(birdIbgp(b.ipv4, b.ipv6, me.ipv4, me.ipv6).replace(' route 198.51.100.0/25 blackhole;', ''));
    await waitFor('198.51.100.0/25 withdrawn', async () => ((await speaker.installed()).some((i) => i.prefix === '198.51.100.0/25') ? undefined : true));
    expect((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24')).toBe(true);
  });

  it('logs a NOTIFICATION from the peer with its meaning', async () => {
    await bird.cmd('disable tortie');
    await waitFor('NOTIFICATION logged', async () => (/NOTIFICATION from peer: Cease\s*\/\s*Administrative Shutdown/i.test(speaker.log()) ? true : undefined));
    const p = await speaker.peer(b.ipv4);
    expect(p?.state).not.toBe('Established');
    await bird.cmd('enable tortie');
    await waitPeerState(speaker, b.ipv4, 'Established');
  });

  it('a peer frozen with SIGSTOP is torn down at hold-time expiry and recovers after SIGCONT', async () => {
    await waitPeerState(speaker, e.ipv4, 'Established');
    ebgp.signal('SIGSTOP');
    try {
      await waitFor('hold timer expiry', async () => {
        const p = await speaker.peer(e.ipv4);
        return p && p.state !== 'Established' ? p : undefined;
      }, 20_000);
      const p = await speaker.peer(e.ipv4);
      expect(p?.info).toMatch(/hold timer expired/);
      // Without GR (the session ended with a NOTIFICATION) its routes are gone.
      await waitFor('eBGP routes withdrawn', async () => ((await speaker.installed()).some((i) => i.prefix === '203.0.113.0/24') ? undefined : true));
    } finally {
      ebgp.signal('SIGCONT');
    }
    await waitPeerState(speaker, e.ipv4, 'Established', 40_000);
    await waitFor('eBGP routes back', async () => ((await speaker.installed()).some((i) => i.prefix === '203.0.113.0/24') ? true : undefined), 20_000);
  });

  it('graceful restart helper: BIRD SIGKILLed → we keep its routes as stale until it is back', async () => {
    await waitPeerState(speaker, b.ipv4, 'Established');
    await waitFor('192.0.2.0/24 installed', async () => ((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24') ? true : undefined));
    await bird.kill('SIGKILL');
    await waitFor('session down', async () => ((await speaker.peer(b.ipv4))?.state !== 'Established' ? true : undefined), 20_000);
    const stale = (await speaker.routes()).find((r) => r.prefix === '192.0.2.0/24' && r.source === b.ipv4);
    expect(stale).toMatchObject({ stale: true, best: true });
    expect((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24')).toBe(true);
    await bird.start(['-R']);
    await waitPeerState(speaker, b.ipv4, 'Established', 40_000);
    await waitFor('routes refreshed (not stale)', async () => {
      const r = (await speaker.routes()).find((x) => x.prefix === '192.0.2.0/24' && x.source === b.ipv4);
      return r && !r.stale ? r : undefined;
    }, 30_000);
    expect((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24')).toBe(true);
  });
});
