import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attrsToApi, capabilityToApi, comparePrefixes, destinations, familyFromApi, InvalidArgument, pathToApi, routeFromApi, type ApiAny } from './convert.js';
import { parseApiHosts } from './hosts.js';
import { lookupFilter } from './lookup.js';
import { peerToApi, type PeerSnapshot } from './peer.js';
import type { PathAttributes, Prefix } from '../../types.js';

const T = 'type.googleapis.com/apipb.';
const v4 = (address: string, length: number): Prefix => ({ family: 4, address, length });
const types = (a: ApiAny[]): string[] => a.map((x) => x['@type'].slice(T.length));

describe('speaker paths → apipb.Path', () => {
  const attrs: PathAttributes = {
    origin: 0,
    asPath: [{ type: 2, asns: [65001, 65002] }],
    med: 5,
    localPref: 200,
    communities: [(65001 << 16) | 7],
    largeCommunities: [[64512, 1, 2]],
    originatorId: '10.0.0.9',
    clusterList: ['1.1.1.1'],
  };

  it('lists IPv4 attributes by type code, with NEXT_HOP from the path', () => {
    const a = attrsToApi(attrs, v4('10.1.0.0', 24), '10.0.0.2');
    expect(types(a)).toEqual(['OriginAttribute', 'AsPathAttribute', 'NextHopAttribute', 'MultiExitDiscAttribute', 'LocalPrefAttribute', 'CommunitiesAttribute', 'OriginatorIdAttribute', 'ClusterListAttribute', 'LargeCommunitiesAttribute']);
    expect(a[1]).toMatchObject({ segments: [{ type: 2, numbers: [65001, 65002] }] });
    expect(a[2]).toMatchObject({ next_hop: '10.0.0.2' });
    expect(a[8]).toMatchObject({ communities: [{ global_admin: 64512, local_data1: 1, local_data2: 2 }] });
  });

  it('carries an IPv6 prefix and next hop in MP_REACH_NLRI (type 14), never NEXT_HOP', () => {
    const a = attrsToApi({ origin: 0, asPath: [] }, { family: 6, address: 'fd00::', length: 64 }, 'fd00::1');
    expect(types(a)).toEqual(['OriginAttribute', 'AsPathAttribute', 'MpReachNLRIAttribute']);
    expect(a[2]).toMatchObject({ family: { afi: 2, safi: 1 }, next_hops: ['fd00::1'], nlris: [{ '@type': `${T}IPAddressPrefix`, prefix: 'fd00::', prefix_len: 64 }] });
  });

  it('an originated path: next hop 0.0.0.0, neighbor 0.0.0.0, our AS and router id, and an age', () => {
    const p = pathToApi(v4('10.2.0.0', 24), { origin: 2, asPath: [] }, '', { address: 'local', asNumber: 64512, routerId: '10.0.0.1', ebgp: false }, true, false, 1_700_000_000_500);
    expect(p).toMatchObject({ best: true, family: { afi: 1, safi: 1 }, neighbor_ip: '0.0.0.0', source_id: '10.0.0.1', age: { seconds: 1_700_000_000, nanos: 500_000_000 } });
    expect(p.pattrs[2]).toMatchObject({ next_hop: '0.0.0.0' });
  });

  it('destinations: sorted by address then length, the best path first', () => {
    const src = { address: '10.0.0.2', asNumber: 1, routerId: '1.1.1.1', ebgp: true };
    const mk = (p: Prefix, best: boolean) => ({ prefix: p, path: pathToApi(p, { origin: 0, asPath: [] }, '10.0.0.2', src, best, false, 0) });
    const d = destinations([mk(v4('10.10.0.0', 16), false), mk(v4('9.0.0.0', 8), false), mk(v4('10.10.0.0', 16), true), mk(v4('10.2.0.0', 16), false)], true);
    expect(d.map((x) => x.prefix)).toEqual(['9.0.0.0/8', '10.2.0.0/16', '10.10.0.0/16']);
    expect(d[2].paths.map((p) => p.best)).toEqual([true, false]);
  });

  it('comparePrefixes orders numerically, not as text', () => {
    expect(comparePrefixes(v4('10.2.0.0', 16), v4('10.10.0.0', 16))).toBeLessThan(0);
    expect(comparePrefixes(v4('10.0.0.0', 8), v4('10.0.0.0', 16))).toBeLessThan(0);
  });
});

describe('capabilities → capability.proto', () => {
  it('maps parsed capabilities to their messages', () => {
    expect(capabilityToApi({ code: 1, afi: 2, safi: 1 })).toEqual({ '@type': `${T}MultiProtocolCapability`, family: { afi: 2, safi: 1 } });
    expect(capabilityToApi({ code: 65, asn: 4200000000 })).toEqual({ '@type': `${T}FourOctetASNCapability`, asn: 4200000000 });
    expect(capabilityToApi({ code: 64, restartFlags: 0x8, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingState: true }] })).toEqual({
      '@type': `${T}GracefulRestartCapability`,
      flags: 8,
      time: 120,
      tuples: [{ family: { afi: 1, safi: 1 }, flags: 0x80 }],
    });
  });

  it('long-lived GR (71) kept raw by the codec still gets its own message (the CLI casts by code)', () => {
    const raw = Buffer.from([0, 1, 1, 0x80, 0, 0, 60]);
    expect(capabilityToApi({ code: 71, raw })).toEqual({ '@type': `${T}LongLivedGracefulRestartCapability`, tuples: [{ family: { afi: 1, safi: 1 }, flags: 0x80, time: 60 }] });
    expect(capabilityToApi({ code: 71, raw: Buffer.from([1]) })).toMatchObject({ '@type': `${T}UnknownCapability`, code: 0 });
    expect(capabilityToApi({ code: 99, raw: Buffer.from([1]) })).toMatchObject({ '@type': `${T}UnknownCapability`, code: 99 });
  });
});

describe('peer snapshot → apipb.Peer', () => {
  const snap: PeerSnapshot = {
    address: '10.0.0.2',
    description: 'Mesh_10_0_0_2',
    asNumber: 64512,
    localAs: 64512,
    rrClient: false,
    clusterId: '10.0.0.1',
    passive: false,
    adminDown: false,
    state: 'Established',
    sinceMs: 1_000_000,
    flops: 1,
    counters: { sent: [0, 1, 3, 0, 10, 0], received: [0, 1, 2, 1, 9, 1] },
    configuredHoldTime: 90,
    connectRetry: 5,
    localCaps: [{ code: 1, afi: 1, safi: 1 }],
    negotiated: { holdTime: 30, keepaliveTime: 10, peerRouterId: '10.0.0.2', remoteCaps: [{ code: 2 }] },
    families: [{ family: 4, counts: { received: 3, accepted: 2, advertised: 4 } }],
    queuedBytes: 0,
  };

  it('fills every nested message the CLI dereferences, with counters summed and the uptime set', () => {
    const p = peerToApi(snap);
    expect(p.state).toMatchObject({ session_state: 6, admin_state: 0, router_id: '10.0.0.2', flops: 1 });
    expect(p.state.messages).toEqual({
      sent: { open: 1, update: 3, notification: 0, keepalive: 10, refresh: 0, discarded: 0, total: 14, withdraw_update: 0, withdraw_prefix: 0 },
      received: { open: 1, update: 2, notification: 1, keepalive: 9, refresh: 1, discarded: 0, total: 14, withdraw_update: 0, withdraw_prefix: 0 },
    });
    expect(p.timers.state).toMatchObject({ negotiated_hold_time: 30, keepalive_interval: 10, uptime: { seconds: 1000, nanos: 0 } });
    expect(p.timers.state.downtime).toBeUndefined();
    expect(p.afi_safis).toEqual([{ config: { family: { afi: 1, safi: 1 }, enabled: true }, state: { family: { afi: 1, safi: 1 }, enabled: true, received: 3, accepted: 2, advertised: 4 } }]);
    for (const k of ['conf', 'route_reflector', 'route_server', 'transport', 'graceful_restart', 'ebgp_multihop'] as const) expect(p[k]).toBeTypeOf('object');
    expect(types(p.state.remote_cap)).toEqual(['RouteRefreshCapability']);
  });

  it('a disabled peer: admin DOWN, IDLE, downtime only once it has been up', () => {
    const { negotiated: _n, ...down } = snap;
    const p = peerToApi({ ...down, state: 'Idle', adminDown: true });
    expect(p.state).toMatchObject({ session_state: 1, admin_state: 1, router_id: '' });
    expect(p.timers.state).toMatchObject({ downtime: { seconds: 1000 } });
    expect(peerToApi({ ...down, state: 'Active', flops: 0 }).timers.state.downtime).toBeUndefined();
  });
});

describe('AddPath / DeletePath paths → routes', () => {
  const path = (pattrs: ApiAny[], nlri: ApiAny = { '@type': `${T}IPAddressPrefix`, prefix: '10.9.0.0', prefix_len: 24 }) => ({ nlri, pattrs, family: { afi: 'AFI_IP', safi: 'SAFI_UNICAST' } as never });

  it('reads what `gobgp global rib add 10.9.0.0/24 nexthop 10.0.0.7 community 65000:1` sends', () => {
    const r = routeFromApi(path([
      { '@type': `${T}OriginAttribute`, origin: 2 },
      { '@type': `${T}NextHopAttribute`, next_hop: '10.0.0.7' },
      { '@type': `${T}CommunitiesAttribute`, communities: [65000 * 65536 + 1] },
    ]));
    expect(r).toEqual({ prefix: v4('10.9.0.0', 24), nextHop: '10.0.0.7', attrs: { origin: 2, communities: [65000 * 65536 + 1] } });
  });

  it('next hop 0.0.0.0 means "unspecified"; IPv6 comes in MP_REACH', () => {
    expect(routeFromApi(path([{ '@type': `${T}NextHopAttribute`, next_hop: '0.0.0.0' }])).nextHop).toBe('');
    const r = routeFromApi({
      family: { afi: 2, safi: 1 },
      pattrs: [{ '@type': `${T}MpReachNLRIAttribute`, next_hops: ['::'], nlris: [{ '@type': `${T}IPAddressPrefix`, prefix: 'fd01::', prefix_len: 64 }] }],
    });
    expect(r.prefix).toEqual({ family: 6, address: 'fd01::', length: 64 });
  });

  it('an IPv6 next hop in MP_REACH is kept (global only: a link-local one alone, or a second one, is refused)', () => {
    const v6 = (hops: string[]) => ({ family: { afi: 2, safi: 1 }, pattrs: [{ '@type': `${T}MpReachNLRIAttribute`, next_hops: hops, nlris: [{ '@type': `${T}IPAddressPrefix`, prefix: 'fd01::', prefix_len: 64 }] }] });
    expect(routeFromApi(v6(['fd00:0:0:0::7'])).nextHop).toBe('fd00::7');
    expect(() => routeFromApi(v6(['fe80::1']))).toThrow(/link-local/);
    expect(() => routeFromApi(v6(['fd00::7', 'fe80::1']))).toThrow(/MpReachNLRIAttribute.next_hops/);
    expect(() => routeFromApi(v6(['10.0.0.1']))).toThrow(/not of the prefix's family/);
    // Shown as its MP_REACH next hop in the table.
    const a = attrsToApi({ origin: 0, asPath: [], nextHop: 'fd00::7' }, { family: 6, address: 'fd01::', length: 64 }, '');
    expect(a.find((x) => x['@type'].endsWith('MpReachNLRIAttribute'))).toMatchObject({ next_hops: ['fd00::7'] });
  });

  it('refuses nonsense with a message naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /path is required/],
      [path([], { '@type': `${T}IPAddressPrefix`, prefix: '10.9.0.1', prefix_len: 24 }), /host bits set \(did you mean 10\.9\.0\.0\/24\?\)/],
      [path([], { '@type': `${T}IPAddressPrefix`, prefix: '10.9.0.0', prefix_len: 33 }), /prefix length 33 is out of range 0\.\.32/],
      [path([], { '@type': `${T}IPAddressPrefix`, prefix: 'x', prefix_len: 8 }), /"x" is not an IP address/],
      [path([], { '@type': `${T}EVPNIPPrefixRoute` }), /nlri must be an IPAddressPrefix/],
      [path([{ '@type': `${T}OriginAttribute`, origin: 7 }]), /origin 7/],
      [path([{ '@type': `${T}NextHopAttribute`, next_hop: 'fd00::1' }]), /next hop fd00::1 is not of the prefix's family/],
      [path([{ '@type': `${T}PmsiTunnelAttribute` }]), /PmsiTunnelAttribute is not supported/],
      [{ ...path([]), family: { afi: 25, safi: 70 } }, /family 25\/70 is not supported/],
    ];
    for (const [p, msg] of bad) expect(() => routeFromApi(p as never)).toThrow(msg);
  });

  it('never throws anything but InvalidArgument, whatever the path', () => {
    const anyAttr = fc.record({ '@type': fc.constantFrom(...['OriginAttribute', 'AsPathAttribute', 'NextHopAttribute', 'MpReachNLRIAttribute', 'CommunitiesAttribute', 'X'].map((t) => T + t)), origin: fc.anything(), next_hop: fc.anything(), segments: fc.anything(), next_hops: fc.anything(), nlris: fc.anything(), communities: fc.anything() });
    fc.assert(
      fc.property(fc.option(fc.record({ nlri: fc.option(fc.record({ '@type': fc.constant(`${T}IPAddressPrefix`), prefix: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), prefix_len: fc.oneof(fc.integer({ min: -1, max: 130 }), fc.anything()) })), pattrs: fc.array(anyAttr, { maxLength: 4 }) })), (p) => {
        try {
          routeFromApi(p as never);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidArgument);
        }
      }),
    );
  });

  it('families: absent means IPv4 unicast; only unicast v4/v6', () => {
    expect(familyFromApi(undefined)).toBe(4);
    expect(familyFromApi({ afi: 'AFI_IP6', safi: 'SAFI_UNICAST' })).toBe(6);
    expect(() => familyFromApi({ afi: 'AFI_IP', safi: 'SAFI_MPLS_VPN' })).toThrow(InvalidArgument);
  });
});

describe('ListPath prefix lookups', () => {
  const ps = [v4('10.0.0.0', 8), v4('10.1.0.0', 16), v4('10.1.2.0', 24), v4('192.0.2.0', 24)];
  const pick = (prefix: string, type?: string) => ps.filter(lookupFilter([{ prefix, ...(type ? { type } : {}) }], 4)).map((p) => `${p.address}/${p.length}`);

  it('EXACT, LONGER, SHORTER, and a bare address', () => {
    expect(pick('10.1.0.0/16')).toEqual(['10.1.0.0/16']);
    expect(pick('10.1.0.0/16', 'LONGER')).toEqual(['10.1.0.0/16', '10.1.2.0/24']);
    expect(pick('10.1.0.0/16', 'SHORTER')).toEqual(['10.0.0.0/8', '10.1.0.0/16']);
    expect(pick('10.1.2.3')).toEqual(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24']);
    expect(() => pick('nonsense')).toThrow(/"nonsense" is not an address or prefix/);
  });
});

describe('TORTIE_GOBGP_API_HOSTS', () => {
  it('defaults to GoBGP’s 127.0.0.1:50051; off serves nothing', () => {
    expect(parseApiHosts(undefined)).toEqual({ hosts: ['127.0.0.1:50051'] });
    expect(parseApiHosts(' off ')).toEqual({ hosts: [] });
    expect(parseApiHosts('unix:///run/x.sock,0.0.0.0:50051')).toEqual({ hosts: ['unix:///run/x.sock', '0.0.0.0:50051'] });
    expect(parseApiHosts('unix://relative')).toMatchObject({ error: expect.stringMatching(/absolute/) });
    expect(parseApiHosts('10.0.0.1:99999')).toMatchObject({ error: expect.stringMatching(/not host:port/) });
  });
});
