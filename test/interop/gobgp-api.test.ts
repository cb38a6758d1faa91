// The stock `gobgp` CLI (Debian's gobgp 3.10) against our speaker's GoBGP API, and against gobgpd
// fed the same routes by the same BIRD peers: `neighbor`, `global rib [-a ipv6]`, `adj-in`,
// `global rib summary` print the same lines once ages and uptimes are masked — with several paths
// per prefix (two peers; ADD-PATH) and typed extended communities. `global rib add` (IPv4 and
// IPv6, with or without `nexthop`) reaches a BIRD peer and `del` withdraws it; the neighbor commands act on the session; bad
// requests get INVALID_ARGUMENT / NOT_FOUND, unimplemented RPCs UNIMPLEMENTED.
import { execFile, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { Gobgp, gobgpConfig } from '../harness/gobgp.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState } from './speaker-proc.js';

const AS = 64512;
const EBGP_AS = 65001;

/**
 * A BIRD peering with both speakers under test (ours and gobgpd) over IPv4 and IPv6, exporting
 * only its statics: were it to pass one speaker's routes to the other, gobgpd would keep the
 * AS-looped copy in its Adj-RIB-In and count it as received, where we count it as rejected only.
 */
function birdConf(me: LabMember, peers: LabMember[], as: number, statics: string, v4Channel = ''): string {
  const sessions = peers.flatMap((p, i) => [
    `protocol bgp p${i} { local ${me.ipv4} as ${as}; neighbor ${p.ipv4} as ${AS}; hold time 9; keepalive time 3; connect retry time 2; error wait time 1,4; ipv4 { import all; export where source = RTS_STATIC; ${v4Channel} }; }`,
    `protocol bgp p${i}v6 { local ${me.ipv6} as ${as}; neighbor ${p.ipv6} as ${AS}; hold time 9; keepalive time 3; connect retry time 2; error wait time 1,4; ipv6 { import all; export where source = RTS_STATIC; }; }`,
  ]);
  return `router id ${me.ipv4};\nprotocol device {}\n${statics}\n${sessions.join('\n')}\n`;
}

/** Runs `gobgp ARGS` in a namespace against 127.0.0.1:50051; exit code and both outputs. */
function gobgp(ns: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile('ip', ['netns', 'exec', ns, 'gobgp', ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

/** CLI output with ages and up/down times masked (HH:MM:SS, "1d 02:03:04", "never" stays). */
const mask = (s: string): string => s.replace(/(\d+d )?\d\d:\d\d:\d\d/g, 'TIME').trimEnd();

describe('interop: the gobgp CLI against our speaker and against gobgpd', () => {
  let lab: BgpLab;
  let ours: SpeakerProc;
  let ref: Gobgp;
  let ebgp: Bird;
  let ibgp: Bird;
  let me: LabMember;
  let r: LabMember;
  let e: LabMember;
  let i: LabMember;
  /** The eBGP BIRD's configuration, with `extra` IPv4 static routes. */
  const ebgpConf = (extra: string): string =>
    birdConf(e, [me, r], EBGP_AS, `protocol static { ipv4; route 192.0.2.0/24 blackhole; route 203.0.113.0/24 blackhole { bgp_community.add((65001,7)); }; ${extra} }
protocol static { ipv6; route 2001:db8:e::/48 blackhole; }`);
  const both = async (args: string[]): Promise<[string, string]> => [mask((await gobgp(me.ns, args)).out), mask((await gobgp(r.ns, args)).out)];

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'ga', members: 4 });
    [me, r, e, i] = lab.members;
    const peers = [
      { address: e.ipv4, asNumber: EBGP_AS, type: 'node' as const },
      { address: e.ipv6, asNumber: EBGP_AS, type: 'node' as const },
      { address: i.ipv4, asNumber: AS, type: 'node' as const },
      { address: i.ipv6, asNumber: AS, type: 'node' as const },
    ];
    ours = await SpeakerProc.start(me.ns, { asNumber: AS, routerId: me.ipv4, ...SHORT_TIMERS, peers, originate: [] }, { TORTIE_GOBGP_API_HOSTS: '127.0.0.1:50051' });
    ref = await Gobgp.start(
      r.ns,
      gobgpConfig({
        as: AS,
        routerId: r.ipv4,
        // ADD-PATH as our speaker offers it (Calico's BIRD: `add paths on`): receive on every session,
        // send too on iBGP ones.
        neighbors: peers.map((p) => ({
          address: p.address,
          peerAs: p.asNumber,
          holdTime: 9,
          keepalive: 3,
          connectRetry: 2,
          families: ['ipv4-unicast', 'ipv6-unicast'],
          addPaths: p.asNumber === AS ? { receive: true, sendMax: 8 } : { receive: true },
        })),
      }),
    );
    // 192.0.2.0/24 from both: the eBGP path wins in both speakers (shorter AS path loses to... none: local pref equal, iBGP AS path empty — so iBGP wins).
    ebgp = await Bird.start(e.ns, ebgpConf(''));
    // The iBGP BIRD sends two paths for 198.51.100.0/25 (ADD-PATH, from two static protocols) and
    // extended communities of each kind GoBGP types (RFC 4360: two- and four-octet AS specific, IPv4
    // address specific, opaque: encapsulation, origin validation; and one it does not know).
    const extcomms = ['(rt, 65001, 100)', '(ro, 10.1.2.3, 7)', '(rt, 4200000001, 5)', '(generic, 0x030c0000, 8)', '(generic, 0x43000000, 2)', '(unknown 0x0a, 1, 2)']
      .map((c) => `bgp_ext_community.add(${c});`)
      .join(' ');
    ibgp = await Bird.start(
      i.ns,
      birdConf(
        i,
        [me, r],
        AS,
        `protocol static { ipv4; route 192.0.2.0/24 blackhole { ${extcomms} }; route 198.51.100.0/25 blackhole { bgp_med = 20; }; }
protocol static s2 { ipv4; route 198.51.100.0/25 blackhole { bgp_med = 10; }; }
protocol static { ipv6; route 2001:db8:2::/48 blackhole; }`,
        'add paths tx;',
      ),
    );
    for (const p of peers) await waitPeerState(ours, p.address, 'Established');
    for (const p of peers) await ref.waitEstablished(p.address);
    // Both tables complete: 5 IPv4 paths over 3 prefixes (two from two peers, two by ADD-PATH from one), 2 IPv6 prefixes.
    for (const ns of [me.ns, r.ns])
      await waitFor(`tables in ${ns}`, async () => {
        const v4 = (await gobgp(ns, ['global', 'rib', 'summary'])).out;
        const v6 = (await gobgp(ns, ['global', 'rib', 'summary', '-a', 'ipv6'])).out;
        return v4.includes('Destination: 3, Path: 5') && v6.includes('Destination: 2, Path: 2') ? true : undefined;
      });
  }, 120_000);

  afterAll(() => stopEach(ours, ref, ebgp, ibgp, lab));

  it('`neighbor` lists the same peers, AS numbers, states and route counts', async () => {
    const [a, b] = await both(['neighbor']);
    expect(a).toBe(b);
    expect(a).toContain('Establ');
  });

  it('`global rib` and `global rib -a ipv6` print the same lines: best marks, next hops, AS paths, attributes', async () => {
    const [a, b] = await both(['global', 'rib']);
    expect(a).toBe(b);
    expect(a).toMatch(/\*> 192\.0\.2\.0\/24/);
    expect(a).toContain('{Communities: 65001:7}');
    const [a6, b6] = await both(['global', 'rib', '-a', 'ipv6']);
    expect(a6).toBe(b6);
    expect(a6).toContain('2001:db8:e::/48');
  });

  it('multipath and extended communities: every path of a prefix with its own id and best mark, typed extended communities, as gobgpd prints them', async () => {
    const [a, b] = await both(['global', 'rib']);
    expect(a).toBe(b);
    // Two peers' paths for 192.0.2.0/24, two ADD-PATH paths of one peer for 198.51.100.0/25: each
    // listed, the best (lower MED) first and marked.
    expect(a).toMatch(/^\*> 198\.51\.100\.0\/25 .*\{Med: 10\}.*\n\* {2}198\.51\.100\.0\/25 .*\{Med: 20\}/m);
    expect(a).toMatch(/^\* {2}192\.0\.2\.0\/24 +10\.77\.0\.3 +65001 /m);
    // Typed as gobgpd types them: route target (2- and 4-octet AS), route origin (IPv4), opaque
    // encapsulation and origin validation, and an unknown type.
    expect(a).toContain('{Extcomms: [65001:100], [1:2], [10.1.2.3:7], [64086.59905:5], [VXLAN], [invalid]}');
    // Adj-RIB-In: every path the peer sent, each with the path identifier it came with.
    const [ai, bi] = await both(['neighbor', i.ipv4, 'adj-in']);
    expect(ai).toBe(bi);
    const ids = [...ai.matchAll(/^ {3}(\d+) +198\.51\.100\.0\/25 /gm)].map((m) => Number(m[1]));
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids.every((id) => id > 0)).toBe(true);
  });

  it('`global` prints the AS, router id, listening port and addresses as gobgpd does', async () => {
    const [a, b] = await both(['global']);
    // gobgpd opens one socket per family (0.0.0.0 and ::); ours is one dual-stack socket on ::.
    expect(a.replace(me.ipv4, 'RID')).toBe(b.replace(r.ipv4, 'RID').replace('Addresses: 0.0.0.0, ::', 'Addresses: ::'));
    expect(a).toBe(`AS:        ${AS}\nRouter-ID: ${me.ipv4}\nListening Port: 179, Addresses: ::`);
  });

  it('`neighbor ADDR adj-in` and `global rib summary` match gobgpd', async () => {
    for (const args of [['neighbor', e.ipv4, 'adj-in'], ['neighbor', i.ipv4, 'adj-in'], ['neighbor', e.ipv6, 'adj-in', '-a', 'ipv6'], ['global', 'rib', 'summary']]) {
      const [a, b] = await both(args);
      expect(a, args.join(' ')).toBe(b);
    }
  });

  it('`neighbor ADDR adj-out` matches gobgpd, the same route added to both with `global rib add`', async () => {
    for (const ns of [me.ns, r.ns]) expect((await gobgp(ns, ['global', 'rib', 'add', '10.97.0.0/24', 'community', '64512:97'])).code).toBe(0);
    // An IPv6 route with its own next hop (MP_REACH): both keep it, to eBGP and iBGP peers alike.
    const hop6 = me.ipv6.replace(/[0-9a-f]+$/, '97');
    for (const ns of [me.ns, r.ns]) expect((await gobgp(ns, ['global', 'rib', 'add', '-a', 'ipv6', '2001:db8:97::/48', 'nexthop', hop6])).code).toBe(0);
    try {
      const [g, h] = await both(['global', 'rib', '-a', 'ipv6']);
      expect(g).toBe(h);
      expect(g).toMatch(new RegExp(`^\\*> 2001:db8:97::/48 +${hop6} `, 'm'));
      // The ID column is gobgpd's own number for the path it sends (add-path), masked like ages.
      const ids = (s: string): string => s.replace(/^ {3}\d+ /gm, '   ID ');
      // One known difference: RFC 4360 §2 keeps non-transitive extended communities (origin
      // validation, "[invalid]") inside the AS; we drop them towards eBGP peers as BIRD does, gobgpd
      // sends them.
      const ebgpOnly = (args: string[], out: string): string => ([e.ipv4, e.ipv6].includes(args[1] ?? '') ? out.replace(/, \[invalid\]/g, '') : out);
      for (const args of [['neighbor', e.ipv4, 'adj-out'], ['neighbor', i.ipv4, 'adj-out'], ['neighbor', e.ipv6, 'adj-out', '-a', 'ipv6'], ['neighbor', i.ipv6, 'adj-out', '-a', 'ipv6']]) {
        const [a, b] = (await both(args)).map(ids);
        if ([e.ipv4, e.ipv6].includes(args[1] ?? '')) expect(a, 'no non-transitive extended community leaves the AS').not.toContain('[invalid]');
        expect(a.replace(new RegExp(me.ipv4.replace(/\./g, '\\.'), 'g'), 'SELF').replace(new RegExp(me.ipv6, 'g'), 'SELF6'), args.join(' ')).toBe(
          ebgpOnly(args, b.replace(new RegExp(r.ipv4.replace(/\./g, '\\.'), 'g'), 'SELF').replace(new RegExp(r.ipv6, 'g'), 'SELF6')),
        );
      }
      expect((await gobgp(me.ns, ['neighbor', e.ipv6, 'adj-out', '-a', 'ipv6'])).out).toMatch(new RegExp(`2001:db8:97::/48 +${hop6} `));
    } finally {
      for (const ns of [me.ns, r.ns]) await gobgp(ns, ['global', 'rib', 'del', '10.97.0.0/24']);
      for (const ns of [me.ns, r.ns]) await gobgp(ns, ['global', 'rib', 'del', '-a', 'ipv6', '2001:db8:97::/48']);
    }
  });

  it('`neighbor ADDR` prints the same lines as gobgpd: state, timers, capabilities both ways, route counts', async () => {
    // gobgpd also advertises its host name (FQDN capability) and, with IPv6 configured, IPv4 routes
    // over IPv6 next hops (extended next hop), which we do not; message counts depend on each
    // implementation's packing and keepalive timing: those are compared by shape, not value.
    const norm = (s: string): string =>
      s
        .replace(/\n {4}extended-nexthop:\tadvertised\n +Local: .*\n/, '\n')
        .replace(/\n {4}fqdn:\tadvertised\n {6}Local:\n {9}name: .*\n/, '\n')
        // Counts of different widths shift the columns: the whole line is masked.
        .replace(/^( {4}(Updates|Keepalives|Total):)\s+\d+\s+\d+$/gm, '$1 N N');
    for (const addr of [e.ipv4, i.ipv4, e.ipv6, i.ipv6]) {
      const [a, b] = (await both(['neighbor', addr])).map(norm);
      expect(a, addr).toBe(b);
    }
  });

  it('`neighbor ADDR` shows the negotiated session: router id, timers, capabilities both ways, counters, per-family routes', async () => {
    const out = (await gobgp(me.ns, ['neighbor', e.ipv4])).out;
    expect(out).toContain(`BGP neighbor is ${e.ipv4}, remote AS ${EBGP_AS}`);
    expect(out).toContain(`remote router ID ${e.ipv4}`);
    expect(out).toContain('BGP state = ESTABLISHED');
    expect(out).toMatch(/Hold time is 9, keepalive interval is 3 seconds/);
    expect(out).toMatch(/multiprotocol:\s+ipv4-unicast:\s+advertised and received/);
    expect(out).toMatch(/4-octet-as:\s+advertised and received/);
    expect(out).toMatch(/Opens:\s+1\s+1/);
    expect(out).toMatch(/Received:\s+2/);
    expect(out).toMatch(/Accepted:\s+2/);
  });

  it('`global rib add` with a community reaches BIRD; `del` withdraws it', async () => {
    expect((await gobgp(me.ns, ['global', 'rib', 'add', '10.99.0.0/24', 'community', '64512:99'])).code).toBe(0);
    const seen = await waitFor('10.99.0.0/24 at the eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '10.99.0.0/24' && x.protocol === 'p0'));
    expect(seen.attrs['BGP.as_path']).toBe(String(AS));
    expect(seen.attrs['BGP.community']).toContain('(64512,99)');
    expect(seen.attrs['BGP.next_hop']).toBe(me.ipv4);
    expect((await gobgp(me.ns, ['neighbor', e.ipv4, 'adj-out'])).out).toMatch(/10\.99\.0\.0\/24\s+10\.77\.0\.1\s+64512\s+\[\{Origin: \?\} \{Communities: 64512:99\}\]/);
    expect((await gobgp(me.ns, ['global', 'rib', 'del', '10.99.0.0/24'])).code).toBe(0);
    await waitFor('10.99.0.0/24 withdrawn', async () => ((await ebgp.routes()).some((x) => x.prefix === '10.99.0.0/24' && x.protocol === 'p0') ? undefined : true));
  });

  it('`global rib add … nexthop ADDR` sends that IPv4 next hop', async () => {
    const hop = me.ipv4.replace(/\.\d+$/, '.50');
    expect((await gobgp(me.ns, ['global', 'rib', 'add', '10.96.0.0/24', 'nexthop', hop])).code).toBe(0);
    const seen = await waitFor('10.96.0.0/24 at the eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '10.96.0.0/24' && x.protocol === 'p0'));
    expect(seen.attrs['BGP.next_hop']).toBe(hop);
    expect((await gobgp(me.ns, ['global', 'rib', 'del', '10.96.0.0/24'])).code).toBe(0);
    await waitFor('10.96.0.0/24 withdrawn', async () => ((await ebgp.routes()).some((x) => x.prefix === '10.96.0.0/24' && x.protocol === 'p0') ? undefined : true));
  });

  it('`global rib add -a ipv6` reaches BIRD with our address as next hop, or with the one `nexthop` names; `del` withdraws', async () => {
    const hop6 = me.ipv6.replace(/[0-9a-f]+$/, '96');
    expect((await gobgp(me.ns, ['global', 'rib', 'add', '-a', 'ipv6', '2001:db8:99::/48'])).code).toBe(0);
    expect((await gobgp(me.ns, ['global', 'rib', 'add', '-a', 'ipv6', '2001:db8:96::/48', 'nexthop', hop6])).code).toBe(0);
    const seen = await waitFor('2001:db8:99::/48 at the eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '2001:db8:99::/48'));
    expect(seen.attrs['BGP.next_hop']).toContain(me.ipv6);
    const named = await waitFor('2001:db8:96::/48 at the eBGP BIRD', async () => (await ebgp.routes()).find((x) => x.prefix === '2001:db8:96::/48'));
    expect(named.attrs['BGP.next_hop']?.split(' ')[0]).toBe(hop6);
    for (const p of ['2001:db8:99::/48', '2001:db8:96::/48']) {
      expect((await gobgp(me.ns, ['global', 'rib', 'del', '-a', 'ipv6', p])).code).toBe(0);
      await waitFor(`${p} withdrawn`, async () => ((await ebgp.routes()).some((x) => x.prefix === p) ? undefined : true));
    }
  });

  it('`monitor global rib --current` prints the table, then each best-path change', async () => {
    const mon = spawn('ip', ['netns', 'exec', me.ns, 'gobgp', 'monitor', 'global', 'rib', '--current'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    mon.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor('current table', async () => (out.includes('[ROUTE] 192.0.2.0/24') ? true : undefined));
      await gobgp(me.ns, ['global', 'rib', 'add', '10.98.0.0/24']);
      await waitFor('added route', async () => (/\[ROUTE\] 10\.98\.0\.0\/24 via 0\.0\.0\.0/.test(out) ? true : undefined));
      await gobgp(me.ns, ['global', 'rib', 'del', '10.98.0.0/24']);
      await waitFor('withdrawal', async () => (out.includes('[DELROUTE] 10.98.0.0/24') ? true : undefined));
    } finally {
      mon.kill();
    }
  });

  it('`neighbor ADDR disable` / `enable`, `reset`, `softresetin`, `softresetout` and `shutdown` act on the session', async () => {
    expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'disable'])).code).toBe(0);
    await waitFor('Idle(Admin)', async () => ((await gobgp(me.ns, ['neighbor'])).out.includes('Idle(Admin)') ? true : undefined));
    expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'enable'])).code).toBe(0);
    await waitPeerState(ours, i.ipv4, 'Established');
    expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'reset'])).code).toBe(0);
    await waitFor('flop counted', async () => ((await gobgp(me.ns, ['neighbor', i.ipv4])).out.match(/Flops = (\d+)/)?.[1] === '2' ? true : undefined));
    await waitPeerState(ours, i.ipv4, 'Established');
    expect((await gobgp(me.ns, ['neighbor', e.ipv4, 'softresetin'])).code).toBe(0);
    await waitFor('route refresh sent', async () => ((await gobgp(me.ns, ['neighbor', e.ipv4])).out.match(/Route Refresh:\s+(\d+)/)?.[1] === '1' ? true : undefined));
    // softresetout sends our routes again: the UPDATEs sent go up, the session stays.
    const updatesSent = async (): Promise<number> => Number((await gobgp(me.ns, ['neighbor', e.ipv4])).out.match(/Updates:\s+(\d+)/)?.[1]);
    const before = await updatesSent();
    expect((await gobgp(me.ns, ['neighbor', e.ipv4, 'softresetout'])).code).toBe(0);
    await waitFor('routes sent again', async () => ((await updatesSent()) > before ? true : undefined));
    expect((await gobgp(me.ns, ['neighbor', e.ipv4])).out).toMatch(/Flops = 0/);
    expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'shutdown'])).code).toBe(0);
    await waitFor('Idle(Admin) after shutdown', async () => ((await gobgp(me.ns, ['neighbor'])).out.includes('Idle(Admin)') ? true : undefined));
    expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'enable'])).code).toBe(0);
    await waitPeerState(ours, i.ipv4, 'Established');
  });

  it('`monitor neighbor ADDR` prints each state change as it happens, as gobgpd does', async () => {
    const mon = spawn('ip', ['netns', 'exec', me.ns, 'gobgp', 'monitor', 'neighbor', i.ipv4], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    mon.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      // A change made before the CLI's stream is open is not reported: disable until one is.
      await waitFor(`IDLE/DOWN event in: ${out}`, async () => {
        await gobgp(me.ns, ['neighbor', i.ipv4, 'enable']);
        await gobgp(me.ns, ['neighbor', i.ipv4, 'disable']);
        return out.includes(`[NEIGH] ${i.ipv4} fsm: IDLE admin: DOWN`) ? true : undefined;
      }).catch((err: Error) => Promise.reject(new Error(`${err.message}; monitor printed: ${out}`)));
      expect((await gobgp(me.ns, ['neighbor', i.ipv4, 'enable'])).code).toBe(0);
      await waitFor('established event', async () => (out.includes(`[NEIGH] ${i.ipv4} fsm: ESTABLISHED admin: UP`) ? true : undefined));
      expect(out).not.toContain(i.ipv6);
    } finally {
      mon.kill();
    }
  });

  it('a route that arrives later is younger in `global rib` (as in gobgpd), and `monitor adj-in` prints it and its withdrawal as they happen', async () => {
    const seconds = (t: string): number => t.split(':').reduce((n, x) => n * 60 + Number(x), 0);
    const ageOf = async (prefix: string): Promise<number> => {
      const line = (await gobgp(me.ns, ['global', 'rib'])).out.split('\n').find((l) => l.includes(prefix)) ?? '';
      return seconds(/\d\d:\d\d:\d\d/.exec(line)?.[0] ?? 'NaN');
    };
    // Ages count in seconds: the routes already there must be at least 2 s old to tell them apart.
    await waitFor('older routes aged', async () => ((await ageOf('203.0.113.0/24')) >= 2 ? true : undefined));
    const mon = spawn('ip', ['netns', 'exec', me.ns, 'gobgp', 'monitor', 'adj-in'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    mon.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor('monitor open', async () => ((await gobgp(me.ns, ['global'])).code === 0 ? true : undefined));
      await ebgp.reconfigure(ebgpConf('route 198.18.0.0/24 blackhole;'));
      await waitFor('new route in both tables', async () => ((await both(['global', 'rib'])).every((t) => t.includes('198.18.0.0/24')) ? true : undefined));
      expect(await ageOf('198.18.0.0/24')).toBeLessThan(await ageOf('203.0.113.0/24'));
      const [a, b] = await both(['global', 'rib']);
      expect(a).toBe(b);
      await waitFor('ROUTE event', async () => (new RegExp(`\\[ROUTE\\] 198\\.18\\.0\\.0/24 via ${e.ipv4} aspath \\[${EBGP_AS}\\]`).test(out) ? true : undefined));
      await ebgp.reconfigure(ebgpConf(''));
      await waitFor('DELROUTE event', async () => (out.includes('[DELROUTE] 198.18.0.0/24') ? true : undefined));
    } finally {
      mon.kill();
      await ebgp.reconfigure(ebgpConf(''));
    }
    await waitFor('route gone from both', async () => ((await both(['global', 'rib'])).some((t) => t.includes('198.18.0.0/24')) ? undefined : true));
  });

  it('bad requests: unknown neighbor, host bits, other families, unimplemented RPCs', async () => {
    expect(await gobgp(me.ns, ['neighbor', '10.1.1.1', 'reset'])).toMatchObject({ code: 1, out: expect.stringContaining('not found neighbor') });
    expect(await gobgp(me.ns, ['global', 'rib', '-a', 'evpn'])).toMatchObject({ code: 1, out: expect.stringContaining('InvalidArgument') });
    expect(await gobgp(me.ns, ['global', 'rib', 'del', '10.98.0.0/24'])).toMatchObject({ code: 1, out: expect.stringContaining('NotFound') });
    expect(await gobgp(me.ns, ['global', 'rib', 'add', '-a', 'ipv6', '2001:db8:95::/48', 'nexthop', 'fe80::1'])).toMatchObject({ code: 1, out: expect.stringContaining('InvalidArgument') });
    expect(await gobgp(me.ns, ['global', 'rib', 'add', '-a', 'ipv6', '2001:db8:95::/48', 'nexthop', '10.0.0.1'])).toMatchObject({ code: 1, out: expect.stringContaining('InvalidArgument') });
    expect(await gobgp(me.ns, ['vrf'])).toMatchObject({ code: 1, out: expect.stringContaining('Unimplemented') });
    expect(await gobgp(me.ns, ['neighbor', 'add', '10.5.5.5', 'as', '65009'])).toMatchObject({ code: 1, out: expect.stringContaining('Unimplemented desc = peers come from the datastore') });
    // Still serving.
    expect((await gobgp(me.ns, ['global'])).out).toContain(`Router-ID: ${me.ipv4}`);
  });
});
