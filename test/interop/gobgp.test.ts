// Our speaker against real GoBGP 3 (gobgpd) in network namespaces: iBGP and eBGP over IPv4 and
// IPv6; routes both ways with AS_PATH / NEXT_HOP / LOCAL_PREF / communities; withdraws both ways;
// a NOTIFICATION from GoBGP logged with its meaning; a SIGSTOPped GoBGP torn down at hold-time
// expiry and back after SIGCONT; both sides dialling leaves one TCP connection per session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { Gobgp, gobgpConfig, pathAttr, type GobgpPath } from '../harness/gobgp.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const EBGP_AS = 65002;

function gobgpConf(me: LabMember, as: number, peers: Array<{ address: string; as: number; family: 'ipv4-unicast' | 'ipv6-unicast' }>): string {
  return gobgpConfig({ as, routerId: me.ipv4, neighbors: peers.map((p) => ({ address: p.address, peerAs: p.as, holdTime: 9, keepalive: 3, connectRetry: 2, families: [p.family] })) });
}

function first(rib: Record<string, GobgpPath[]>, prefix: string): GobgpPath | undefined {
  return rib[prefix]?.[0];
}

describe('interop: GoBGP 3', () => {
  let lab: BgpLab;
  let ibgp: Gobgp;
  let ebgp: Gobgp;
  let speaker: SpeakerProc;
  let cfg: SpeakerFileConfig;
  let me: LabMember;
  let g: LabMember;
  let e: LabMember;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'gb', members: 3 });
    [me, g, e] = lab.members;
    ibgp = await Gobgp.start(g.ns, gobgpConf(g, AS, [
      { address: me.ipv4, as: AS, family: 'ipv4-unicast' },
      { address: me.ipv6, as: AS, family: 'ipv6-unicast' },
    ]));
    ebgp = await Gobgp.start(e.ns, gobgpConf(e, EBGP_AS, [
      { address: me.ipv4, as: AS, family: 'ipv4-unicast' },
      { address: me.ipv6, as: AS, family: 'ipv6-unicast' },
    ]));
    cfg = {
      asNumber: AS,
      routerId: me.ipv4,
      ...SHORT_TIMERS,
      connectRetryMax: 4,
      peers: [
        { address: g.ipv4, asNumber: AS, type: 'global' },
        { address: g.ipv6, asNumber: AS, type: 'global' },
        { address: e.ipv4, asNumber: EBGP_AS, type: 'node' },
        { address: e.ipv6, asNumber: EBGP_AS, type: 'node' },
      ],
      originate: [
        { prefix: '10.20.1.0/26', communities: ['64512:200'], largeCommunities: ['64512:1:2'] },
        { prefix: '10.20.2.0/26' },
        { prefix: 'fd00:20:1::/122' },
      ],
    };
    speaker = await SpeakerProc.start(me.ns, cfg);
  });

  afterAll(() => stopEach(speaker, ibgp, ebgp, lab));

  it('reaches Established with GoBGP over iBGP v4, iBGP v6, eBGP v4 and eBGP v6', async () => {
    await waitPeerState(speaker, g.ipv4, 'Established');
    await waitPeerState(speaker, g.ipv6, 'Established');
    await waitPeerState(speaker, e.ipv4, 'Established');
    await waitPeerState(speaker, e.ipv6, 'Established');
    expect(await ebgp.neighborState(me.ipv6)).toBe('established');
    expect(await ibgp.neighborState(me.ipv4)).toBe('established');
    expect(await ebgp.neighborState(me.ipv4)).toBe('established');
  });

  it('our prefixes are in `gobgp global rib` with the right attributes (iBGP)', async () => {
    const rib = await waitFor('10.20.1.0/26 in GoBGP', async () => {
      const r = await ibgp.rib();
      return first(r, '10.20.1.0/26') ? r : undefined;
    });
    const p = first(rib, '10.20.1.0/26') as GobgpPath;
    expect(pathAttr(p, 2)).toMatchObject({ as_paths: [] });
    expect(pathAttr(p, 3)).toMatchObject({ nexthop: me.ipv4 });
    expect(pathAttr(p, 5)).toMatchObject({ value: 100 });
    expect(pathAttr(p, 8)).toMatchObject({ communities: [64512 * 65536 + 200] });
    expect(JSON.stringify(pathAttr(p, 32))).toContain('64512');
    const rib6 = await waitFor('fd00:20:1::/122 in GoBGP', async () => {
      const r = await ibgp.rib(6);
      return first(r, 'fd00:20:1::/122') ? r : undefined;
    });
    expect(JSON.stringify(first(rib6, 'fd00:20:1::/122')?.attrs)).toContain(me.ipv6);
  });

  it('eBGP: AS_PATH is our AS, next hop is us, no LOCAL_PREF', async () => {
    const rib = await waitFor('10.20.1.0/26 in eBGP GoBGP', async () => {
      const r = await ebgp.rib();
      return first(r, '10.20.1.0/26') ? r : undefined;
    });
    const p = first(rib, '10.20.1.0/26') as GobgpPath;
    expect(pathAttr(p, 2)).toMatchObject({ as_paths: [{ segment_type: 2, asns: [AS] }] });
    expect(pathAttr(p, 3)).toMatchObject({ nexthop: me.ipv4 });
    expect(pathAttr(p, 5)).toBeUndefined();
    // IPv6 over eBGP: MP_REACH_NLRI with our global address as next hop, our AS in the path.
    const p6 = await waitFor('fd00:20:1::/122 in eBGP GoBGP', async () => first(await ebgp.rib(6), 'fd00:20:1::/122'));
    expect(pathAttr(p6, 2)).toMatchObject({ as_paths: [{ segment_type: 2, asns: [AS] }] });
    expect(pathAttr(p6, 14)).toMatchObject({ nexthop: me.ipv6 });
    expect(pathAttr(p6, 5)).toBeUndefined();
  });

  it('eBGP IPv6: a GoBGP prefix reaches our route sink with its address as next hop', async () => {
    await ebgp.cli(['global', 'rib', 'add', '2001:db8:e::/48', '-a', 'ipv6']);
    const inst = await waitFor('2001:db8:e::/48 installed', async () => (await speaker.installed()).find((i) => i.prefix === '2001:db8:e::/48'));
    expect(inst).toMatchObject({ nextHops: [e.ipv6], sourcePeer: e.ipv6 });
    const r = (await speaker.routes()).find((x) => x.prefix === '2001:db8:e::/48');
    expect(r).toMatchObject({ asPath: String(EBGP_AS), best: true });
  });

  it('exactly one TCP connection per session although both sides dial', async () => {
    // GoBGP and we are both active; whatever collided while starting was resolved (RFC 4271 §6.8).
    const count = async (m: LabMember, peer: string): Promise<number> => {
      const out = await lab.exec(m, ['ss', '-Htn', 'state', 'established', `( sport = :179 or dport = :179 ) and dst ${peer.includes(':') ? `[${peer}]` : peer}`]);
      return out.stdout.split('\n').filter((l) => l.trim()).length;
    };
    await waitFor('one connection each', async () => {
      for (const peer of [g.ipv4, g.ipv6, e.ipv4, e.ipv6]) if ((await count(me, peer)) !== 1) return undefined;
      return true;
    }, 15_000);
    for (const peer of [g.ipv4, g.ipv6, e.ipv4, e.ipv6]) expect(await count(me, peer)).toBe(1);
    expect(await count(g, me.ipv4)).toBe(1);
  });

  it('logs a NOTIFICATION from GoBGP with its meaning, and the session comes back', async () => {
    await ibgp.cli(['neighbor', me.ipv4, 'disable']);
    await waitFor('NOTIFICATION logged', async () => (/NOTIFICATION from peer: Cease\s*\/\s*Administrative Shutdown/i.test(speaker.log()) ? true : undefined));
    const p = await waitFor('peer down', async () => {
      const x = await speaker.peer(g.ipv4);
      return x && x.state !== 'Established' ? x : undefined;
    });
    expect(p.info).toMatch(/Administrative Shutdown/);
    await ibgp.cli(['neighbor', me.ipv4, 'enable']);
    await waitPeerState(speaker, g.ipv4, 'Established', 40_000);
  });

  it('a GoBGP frozen with SIGSTOP is torn down at hold-time expiry and recovers after SIGCONT', async () => {
    await waitPeerState(speaker, e.ipv4, 'Established');
    ebgp.signal('SIGSTOP');
    try {
      const p = await waitFor('hold timer expiry', async () => {
        const x = await speaker.peer(e.ipv4);
        return x && x.state !== 'Established' ? x : undefined;
      }, 20_000);
      expect(p.info).toMatch(/hold timer expired/);
      expect(speaker.log()).toMatch(/sending NOTIFICATION: Hold Timer Expired/i);
    } finally {
      ebgp.signal('SIGCONT');
    }
    await waitPeerState(speaker, e.ipv4, 'Established', 40_000);
    await waitPeerState(speaker, e.ipv6, 'Established', 40_000);
    expect(await ebgp.neighborState(me.ipv4)).toBe('established');
  });

  it('their prefixes reach our Loc-RIB and the route sink, and withdraws propagate both ways', async () => {
    await ibgp.cli(['global', 'rib', 'add', '192.0.2.0/24', 'community', '65000:7', '-a', 'ipv4']);
    await ibgp.cli(['global', 'rib', 'add', '2001:db8:7::/48', '-a', 'ipv6']);
    await ebgp.cli(['global', 'rib', 'add', '203.0.113.0/24', '-a', 'ipv4']);
    const inst = await waitFor('GoBGP routes installed', async () => {
      const i = await speaker.installed();
      return ['192.0.2.0/24', '2001:db8:7::/48', '203.0.113.0/24'].every((w) => i.some((x) => x.prefix === w)) ? i : undefined;
    });
    expect(inst.find((i) => i.prefix === '192.0.2.0/24')).toMatchObject({ nextHops: [g.ipv4] });
    expect(inst.find((i) => i.prefix === '2001:db8:7::/48')?.nextHops[0]).toBe(g.ipv6);
    expect(inst.find((i) => i.prefix === '203.0.113.0/24')).toMatchObject({ nextHops: [e.ipv4] });
    const r = (await speaker.routes()).find((x) => x.prefix === '192.0.2.0/24');
    expect(r).toMatchObject({ communities: ['65000:7'], localPref: 100, best: true });
    // eBGP-learned → the iBGP GoBGP gets it with the peer's AS in the path.
    const viaUs = await waitFor('203.0.113.0/24 at iBGP GoBGP', async () => first(await ibgp.rib(), '203.0.113.0/24'));
    expect(pathAttr(viaUs, 2)).toMatchObject({ as_paths: [{ asns: [EBGP_AS] }] });

    await ibgp.cli(['global', 'rib', 'del', '192.0.2.0/24', '-a', 'ipv4']);
    await waitFor('192.0.2.0/24 withdrawn', async () => ((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24') ? undefined : true));
    speaker.reconfigure({ ...cfg, originate: cfg.originate?.filter((o) => o.prefix !== '10.20.2.0/26') });
    await waitFor('10.20.2.0/26 withdrawn at GoBGP', async () => (first(await ibgp.rib(), '10.20.2.0/26') || first(await ebgp.rib(), '10.20.2.0/26') ? undefined : true));
    expect(first(await ibgp.rib(), '10.20.1.0/26')).toBeDefined();
  });

  it('removing a peer from the config tears only that session down', async () => {
    speaker.reconfigure({ ...cfg, originate: cfg.originate?.filter((o) => o.prefix !== '10.20.2.0/26'), peers: cfg.peers?.filter((p) => p.address !== e.ipv4) });
    await waitFor('eBGP GoBGP sees us gone', async () => ((await ebgp.neighborState(me.ipv4)) !== 'established' ? true : undefined), 20_000);
    await waitFor('eBGP routes withdrawn', async () => ((await speaker.installed()).some((i) => i.prefix === '203.0.113.0/24') ? undefined : true));
    expect((await speaker.peers()).map((p) => p.address).sort()).toEqual([g.ipv4, g.ipv6, e.ipv6].sort());
    expect((await speaker.peer(g.ipv4))?.state).toBe('Established');
  });
});
