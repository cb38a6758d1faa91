// Our speaker against real GoBGP 3 (gobgpd) in network namespaces: iBGP over IPv4 and IPv6 and
// eBGP; routes both ways with AS_PATH / NEXT_HOP / LOCAL_PREF / communities; withdraws both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { waitFor } from '../harness/daemon.js';
import { Gobgp, pathAttr, type GobgpPath } from '../harness/gobgp.js';
import { SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const EBGP_AS = 65002;

function gobgpConf(me: LabMember, as: number, peers: Array<{ address: string; as: number; family: 'ipv4-unicast' | 'ipv6-unicast' }>): string {
  return `[global.config]
  as = ${as}
  router-id = "${me.ipv4}"
${peers
  .map(
    (p) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.address}"
    peer-as = ${p.as}
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "${p.family}"
`,
  )
  .join('')}`;
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
    ebgp = await Gobgp.start(e.ns, gobgpConf(e, EBGP_AS, [{ address: me.ipv4, as: AS, family: 'ipv4-unicast' }]));
    cfg = {
      asNumber: AS,
      routerId: me.ipv4,
      holdTime: 9,
      connectRetryTime: 1,
      connectRetryMax: 4,
      errorWait: [1, 2],
      peers: [
        { address: g.ipv4, asNumber: AS, type: 'global' },
        { address: g.ipv6, asNumber: AS, type: 'global' },
        { address: e.ipv4, asNumber: EBGP_AS, type: 'node' },
      ],
      originate: [
        { prefix: '10.20.1.0/26', communities: ['64512:200'], largeCommunities: ['64512:1:2'] },
        { prefix: '10.20.2.0/26' },
        { prefix: 'fd00:20:1::/122' },
      ],
    };
    speaker = await SpeakerProc.start(me.ns, cfg);
  });

  afterAll(async () => {
    await speaker?.stop();
    await ibgp?.stop();
    await ebgp?.stop();
    await lab?.cleanup();
  });

  it('reaches Established with GoBGP over iBGP v4, iBGP v6 and eBGP', async () => {
    await waitPeerState(speaker, g.ipv4, 'Established');
    await waitPeerState(speaker, g.ipv6, 'Established');
    await waitPeerState(speaker, e.ipv4, 'Established');
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
    expect((await speaker.peers()).map((p) => p.address).sort()).toEqual([g.ipv4, g.ipv6].sort());
    expect((await speaker.peer(g.ipv4))?.state).toBe('Established');
  });
});
