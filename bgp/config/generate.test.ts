import { describe, expect, it } from 'vitest';
import { computeBgpConfig, hashRouterId, peerName } from './generate.js';
import type { BgpConfigInput, NodeInput } from './types.js';

const node = (name: string, bgp: NonNullable<NodeInput['spec']['bgp']>, labels?: Record<string, string>): NodeInput => ({ metadata: { name, labels }, spec: { bgp } });
const base = (o: Partial<BgpConfigInput> = {}): BgpConfigInput => ({ nodeName: 'a', nodes: [], peers: [], bgpConfigs: [], pools: [], affinities: [], borrowedIps: [], ...o });

describe('computeBgpConfig', () => {
  it('defaults: AS 64512, port 179, mesh on, router id = IPv4 address', () => {
    const c = computeBgpConfig(base({ nodes: [node('a', { ipv4Address: '10.0.0.1/24' })] }));
    expect(c).toMatchObject({ asNumber: 64512, listenPort: 179, meshEnabled: true, routerId: '10.0.0.1', peers: [] });
  });
  it('node AS and node.<name> listen port override the default BGPConfiguration', () => {
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24', asNumber: 65100 }), node('b', { ipv4Address: '10.0.0.2/24' })],
        bgpConfigs: [
          { metadata: { name: 'default' }, spec: { asNumber: 65000, listenPort: 1179 } },
          { metadata: { name: 'node.a' }, spec: { listenPort: 2179 } },
        ],
      }),
    );
    expect(c.asNumber).toBe(65100);
    expect(c.listenPort).toBe(2179);
    expect(c.peers[0]).toMatchObject({ name: 'Mesh_10_0_0_2', asNumber: 65000, port: 1179 });
  });
  it('mesh passivity is exactly the template rule: passive when the peer address is greater as a string', () => {
    const nodes = [node('a', { ipv4Address: '10.0.0.10/24' }), node('b', { ipv4Address: '10.0.0.9/24' })];
    const a = computeBgpConfig(base({ nodeName: 'a', nodes }));
    const b = computeBgpConfig(base({ nodeName: 'b', nodes }));
    expect(a.peers[0].passive).toBe(true); // "10.0.0.9" > "10.0.0.10"
    expect(b.peers[0].passive).toBe(false);
    // Exactly one side of every mesh pair is passive.
    expect(a.peers[0].passive !== b.peers[0].passive).toBe(true);
  });
  it('names peers as Calico does, IPv6 colons and ports included', () => {
    expect(peerName('Mesh', '10.0.0.2')).toBe('Mesh_10_0_0_2');
    expect(peerName('Global', 'fd00::1', 1790)).toBe('Global_fd00__1_port_1790');
  });
  it('a v6-only node gets a stable hashed router id', () => {
    const c = computeBgpConfig(base({ nodes: [node('a', { ipv6Address: 'fd00::1/64' })] }));
    expect(c.routerId).toBe(hashRouterId('a'));
    expect(c.routerId).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
  it('a node without BGP addresses gets no peers and a note saying why', () => {
    const c = computeBgpConfig(base({ nodes: [node('a', {}), node('b', { ipv4Address: '10.0.0.2/24' })] }));
    expect(c.peers).toEqual([]);
    expect(c.notes.join()).toContain('neither spec.bgp.ipv4Address');
  });
  it('never peers with its own address, and keepOriginalNextHop only for eBGP', () => {
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24' })],
        peers: [
          { metadata: { name: 'self' }, spec: { peerIP: '10.0.0.1', asNumber: 64512 } },
          { metadata: { name: 'ibgp' }, spec: { peerIP: '10.0.0.5', asNumber: 64512, keepOriginalNextHop: true } },
          { metadata: { name: 'ebgp' }, spec: { peerIP: '10.0.0.6', asNumber: 65001, nextHopMode: 'Keep' } },
        ],
      }),
    );
    expect(c.peers.map((p) => [p.name, p.keepOriginalNextHop ?? false])).toEqual([
      ['Global_10_0_0_5', false],
      ['Global_10_0_0_6', true],
    ]);
  });
  it('route reflector: iBGP peers outside its cluster are clients, same-cluster and eBGP peers are not', () => {
    const c = computeBgpConfig(
      base({
        nodeName: 'rr',
        nodes: [node('rr', { ipv4Address: '10.0.0.100/24', routeReflectorClusterID: '1.0.0.1' }), node('rr2', { ipv4Address: '10.0.0.101/24', routeReflectorClusterID: '1.0.0.1' })],
        peers: [
          { metadata: { name: 'rr2' }, spec: { peerIP: '10.0.0.101', asNumber: 64512 } },
          { metadata: { name: 'client' }, spec: { peerIP: '10.0.0.7', asNumber: 64512 } },
          { metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.254', asNumber: 65001 } },
        ],
      }),
    );
    expect(Object.fromEntries(c.peers.map((p) => [p.name, p.rrClient]))).toEqual({ Global_10_0_0_101: false, Global_10_0_0_7: true, Global_10_0_0_254: false });
    expect(c.clusterId).toBe('1.0.0.1');
  });
  it('exports own blocks and borrowed /32s inside exportable pools, with prefixAdvertisements communities', () => {
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24' })],
        bgpConfigs: [
          {
            metadata: { name: 'default' },
            spec: { communities: [{ name: 'x', value: '65000:7' }], prefixAdvertisements: [{ cidr: '192.168.0.0/24', communities: ['x', '1:2:3', '65000:7'] }] },
          },
          { metadata: { name: 'node.b' }, spec: { prefixAdvertisements: [{ cidr: '0.0.0.0/0', communities: ['9:9'] }] } },
        ],
        pools: [
          { metadata: { name: 'p' }, spec: { cidr: '192.168.0.0/16' } },
          { metadata: { name: 'off' }, spec: { cidr: '172.16.0.0/16', disabled: true } },
        ],
        affinities: ['192.168.0.64/26', '192.168.5.0/26', '172.16.0.0/26', 'junk'],
        borrowedIps: ['192.168.9.9'],
      }),
    );
    expect(c.exports).toEqual([
      { prefix: { family: 4, address: '192.168.0.64', length: 26 }, communities: [65000 * 65536 + 7], largeCommunities: [[1, 2, 3]] },
      { prefix: { family: 4, address: '192.168.5.0', length: 26 }, communities: [], largeCommunities: [] },
      { prefix: { family: 4, address: '192.168.9.9', length: 32 }, communities: [], largeCommunities: [] },
    ]);
    expect(c.notes.some((n) => n.includes('"junk"'))).toBe(true);
    expect(c.notes.some((n) => n.includes('172.16.0.0/26') && n.includes('disabled'))).toBe(true);
  });
  it('bad peerIP or missing asNumber is a note naming the resource and field, not a crash', () => {
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24' })],
        peers: [
          { metadata: { name: 'bad' }, spec: { peerIP: '10.0.0.300', asNumber: 1 } },
          { metadata: { name: 'noas' }, spec: { peerIP: '10.0.0.3' } },
        ],
      }),
    );
    expect(c.peers).toEqual([]);
    expect(c.notes).toEqual(expect.arrayContaining([expect.stringContaining('BGPPeer bad: spec.peerIP'), expect.stringContaining('BGPPeer noas: spec.asNumber')]));
  });
  it('passwords: nodeMeshPassword on mesh peers, a BGPPeer password on its peers; ttlSecurity passes through', () => {
    const ref = { name: 'bgp-secrets', key: 'mesh' };
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24' }), node('b', { ipv4Address: '10.0.0.2/24' })],
        bgpConfigs: [{ metadata: { name: 'default' }, spec: { nodeMeshPassword: { secretKeyRef: ref } } }],
        peers: [
          { metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.254', asNumber: 65000, password: { secretKeyRef: { name: 'bgp-secrets', key: 'tor' } }, ttlSecurity: 1 } },
          { metadata: { name: 'plain' }, spec: { peerIP: '10.0.0.253', asNumber: 65000, ttlSecurity: 0 } },
        ],
      }),
    );
    const byName = Object.fromEntries(c.peers.map((p) => [p.name, p]));
    expect(byName.Mesh_10_0_0_2.passwordRef).toEqual(ref);
    expect(byName.Global_10_0_0_254).toMatchObject({ passwordRef: { name: 'bgp-secrets', key: 'tor' }, ttlSecurity: 1 });
    expect(byName.Global_10_0_0_253.passwordRef).toBeUndefined();
    expect(byName.Global_10_0_0_253.ttlSecurity).toBeUndefined();
  });
  it('maxRestartTime (and nodeMeshMaxRestartTime for the mesh) in seconds, numAllowedLocalASNumbers passed through', () => {
    const c = computeBgpConfig(
      base({
        nodes: [node('a', { ipv4Address: '10.0.0.1/24' }), node('b', { ipv4Address: '10.0.0.2/24' })],
        bgpConfigs: [{ metadata: { name: 'default' }, spec: { nodeMeshMaxRestartTime: '1m30s' } }],
        peers: [{ metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.254', asNumber: 65000, maxRestartTime: '5m', numAllowedLocalASNumbers: 2 } }],
      }),
    );
    const byName = Object.fromEntries(c.peers.map((p) => [p.name, p]));
    expect(byName.Mesh_10_0_0_2.maxRestartTime).toBe(90);
    expect(byName.Global_10_0_0_254).toMatchObject({ maxRestartTime: 300, numAllowedLocalASNumbers: 2 });
  });
  describe('explicit peering with other Calico nodes (mesh off)', () => {
    const nodes = [node('a', { ipv4Address: '10.0.0.2/24' }), node('b', { ipv4Address: '10.0.0.3/24' }), node('c', { ipv4Address: '10.0.0.4/24', asNumber: 64600 })];
    const bgpConfigs = [
      { metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } },
      { metadata: { name: 'node.c' }, spec: { listenPort: 1790 } },
    ];
    const at = (nodeName: string, peers: BgpConfigInput['peers']) => computeBgpConfig(base({ nodeName, nodes, bgpConfigs, peers }));
    it('peerIP alone: the node\'s listen port and AS; the lower address waits, the node at peerIP peers back and dials', () => {
      const peers = [{ metadata: { name: 'to-c' }, spec: { peerIP: '10.0.0.4' } }];
      expect(at('a', peers).peers).toEqual([expect.objectContaining({ name: 'Global_10_0_0_4_port_1790', address: '10.0.0.4', port: 1790, asNumber: 64600, passive: true, type: 'global' })]);
      // c is what the BGPPeer names: it peers back with every node the (global) BGPPeer applies to.
      const c = at('c', peers).peers;
      expect(c.map((p) => [p.name, p.asNumber, p.passive])).toEqual([
        ['Node_10_0_0_2', 64512, false],
        ['Node_10_0_0_3', 64512, false],
      ]);
    });
    it('the greater address dials a global peer node (the mesh rule), a non-node peer is never passive', () => {
      const peers = [
        { metadata: { name: 'to-a' }, spec: { peerIP: '10.0.0.2', asNumber: 64512 } },
        { metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.9', asNumber: 65000 } },
      ];
      expect(Object.fromEntries(at('b', peers).peers.map((p) => [p.name, p.passive]))).toEqual({ Global_10_0_0_2: false, Global_10_0_0_9: false });
    });
    it('scoped by node: the named node dials, the peer node peers back; other nodes get nothing', () => {
      const peers = [{ metadata: { name: 'b-to-a' }, spec: { node: 'b', peerIP: '10.0.0.2' } }];
      expect(at('b', peers).peers.map((p) => [p.name, p.type, p.asNumber])).toEqual([['Node_10_0_0_2', 'node', 64512]]);
      expect(at('a', peers).peers.map((p) => [p.name, p.type])).toEqual([['Node_10_0_0_3', 'node']]);
      expect(at('c', peers).peers).toEqual([]);
    });
    it('scoped by nodeSelector and peerSelector (Calico nodes by label), both directions', () => {
      const labelled = [node('a', { ipv4Address: '10.0.0.2/24' }, { rack: '1' }), node('b', { ipv4Address: '10.0.0.3/24' }, { rack: '2' }), node('c', { ipv4Address: '10.0.0.4/24' }, { rack: '2' })];
      const peers = [{ metadata: { name: 'rack1-to-rack2' }, spec: { nodeSelector: "rack == '1'", peerSelector: "rack == '2'" } }];
      const on = (n: string) => computeBgpConfig(base({ nodeName: n, nodes: labelled, bgpConfigs, peers })).peers.map((p) => p.address);
      expect(on('a')).toEqual(['10.0.0.3', '10.0.0.4']);
      expect(on('b')).toEqual(['10.0.0.2']);
      expect(on('c')).toEqual(['10.0.0.2']);
    });
    it('an explicit peering wins over a reverse one, a global one over a scoped one to the same address', () => {
      const peers = [
        { metadata: { name: 'a-global' }, spec: { peerIP: '10.0.0.3', asNumber: 64512 } },
        { metadata: { name: 'a-scoped' }, spec: { node: 'a', peerIP: '10.0.0.3', asNumber: 64512, ttlSecurity: 1 } },
        { metadata: { name: 'b-to-a' }, spec: { node: 'b', peerIP: '10.0.0.2', asNumber: 64512 } },
      ];
      const a = at('a', peers).peers;
      expect(a.map((p) => [p.name, p.source])).toEqual([['Global_10_0_0_3', 'a-global']]);
      expect(a[0].ttlSecurity).toBeUndefined();
    });
    it('reversePeering: Manual — the node the BGPPeer names does not peer back', () => {
      const peers = [{ metadata: { name: 'b-to-a' }, spec: { node: 'b', peerIP: '10.0.0.2', reversePeering: 'Manual' as const } }];
      expect(at('b', peers).peers.map((p) => p.name)).toEqual(['Node_10_0_0_2']);
      expect(at('a', peers).peers).toEqual([]);
    });
    it('an asNumber that is not the node\'s makes it an ordinary external peer: no reverse peering', () => {
      const peers = [{ metadata: { name: 'x' }, spec: { node: 'a', peerIP: '10.0.0.4', asNumber: 65001 } }];
      expect(at('a', peers).peers.map((p) => [p.name, p.port])).toEqual([['Node_10_0_0_4', undefined]]);
      expect(at('c', peers).peers).toEqual([]);
    });
  });
});
