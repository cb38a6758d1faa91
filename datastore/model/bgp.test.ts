import { describe, expect, it } from 'vitest';
import { isCommunity, parseASNumber, parsePeerIP } from './index.js';
import { expectError, ok, v3 } from './testutil.js';

const peer = (spec: Record<string, unknown>, name = 'peer-1') => v3('BGPPeer', name, spec);
const cfg = (spec: Record<string, unknown>, name = 'default') => v3('BGPConfiguration', name, spec);

describe('AS numbers', () => {
  it('accepts 1–4294967295 as a number or decimal string', () => {
    expect(parseASNumber(1)).toBe(1);
    expect(parseASNumber(4294967295)).toBe(4294967295);
    expect(parseASNumber('64512')).toBe(64512);
  });
  it('accepts asdot notation', () => {
    expect(parseASNumber('1.10')).toBe(65546);
    expect(parseASNumber('0.64512')).toBe(64512);
    expect(parseASNumber('65535.65535')).toBe(4294967295);
  });
  it('rejects 0, too large, fractions, bad asdot', () => {
    for (const bad of [0, 4294967296, 1.5, -1, '1.65536', '65536.0', 'x', '1.', '']) expect(parseASNumber(bad)).toBeUndefined();
  });
});

describe('BGPPeer', () => {
  it('accepts a global peer and normalizes asdot to a number', () => {
    expect(ok(peer({ peerIP: '192.168.1.1', asNumber: '1.10' })).spec).toEqual({ peerIP: '192.168.1.1', asNumber: 65546, sourceAddress: 'UseNodeIP' });
  });
  it('accepts a node-scoped peer', () => {
    expect(ok(peer({ node: 'rack1-host1', peerIP: '192.168.1.1', asNumber: 63400 })).spec).toMatchObject({ node: 'rack1-host1' });
  });
  it('accepts peerIP with a port, v4:port and [v6]:port', () => {
    expect(ok(peer({ peerIP: '10.0.0.1:1179', asNumber: 1 })).spec).toMatchObject({ peerIP: '10.0.0.1:1179' });
    expect(ok(peer({ peerIP: '[FD00::1]:179', asNumber: 1 })).spec).toMatchObject({ peerIP: '[fd00::1]:179' });
    expect(ok(peer({ peerIP: 'fd00::1', asNumber: 1 })).spec).toMatchObject({ peerIP: 'fd00::1' });
  });
  it('rejects a bad peerIP or port', () => {
    expectError(peer({ peerIP: '10.0.0.300', asNumber: 1 }), 'spec.peerIP', /not a valid peer address/);
    expectError(peer({ peerIP: '10.0.0.1:0', asNumber: 1 }), 'spec.peerIP', /not a valid peer address/);
    expectError(peer({ peerIP: 'fd00::1:179:x', asNumber: 1 }), 'spec.peerIP', /not a valid peer address/);
    expectError(peer({ peerIP: '[10.0.0.1]:179', asNumber: 1 }), 'spec.peerIP', /not a valid peer address/);
  });
  it('parsePeerIP splits address family and port', () => {
    expect(parsePeerIP('[fd00::2]:180')).toEqual({ ip: 'fd00::2', family: 6, port: 180 });
    expect(parsePeerIP('10.1.1.1')).toEqual({ ip: '10.1.1.1', family: 4 });
  });
  it('rejects node together with nodeSelector', () => {
    expectError(peer({ node: 'a', nodeSelector: 'all()', peerIP: '10.0.0.1', asNumber: 1 }), 'spec.nodeSelector', /cannot both be set/);
  });
  it('requires peerIP or peerSelector', () => {
    expectError(peer({ asNumber: 1 }), 'spec.peerIP', /one of peerIP or peerSelector is required/);
  });
  it('accepts a peerSelector peer (node-to-node via selectors)', () => {
    expect(ok(peer({ nodeSelector: '!has(rr)', peerSelector: 'has(rr)' })).spec).toMatchObject({ peerSelector: 'has(rr)' });
  });
  it('rejects peerSelector with peerIP', () => {
    expectError(peer({ peerSelector: 'has(rr)', peerIP: '10.0.0.1', asNumber: 1 }), 'spec.peerSelector', /cannot be combined/);
  });
  it('accepts peerIP without asNumber (a Calico node there peers with its own AS)', () => {
    expect(ok(peer({ peerIP: '10.0.0.1' })).spec).not.toHaveProperty('asNumber');
  });
  it('rejects an invalid AS number', () => {
    expectError(peer({ peerIP: '10.0.0.1', asNumber: 0 }), 'spec.asNumber', /not a valid AS number/);
    expectError(peer({ peerIP: '10.0.0.1', asNumber: '70000.1' }), 'spec.asNumber', /not a valid AS number/);
  });
  it('validates selectors', () => {
    expectError(peer({ peerSelector: 'has(' }), 'spec.peerSelector', /invalid selector/);
  });
  it('accepts a password secret reference and rejects unknown fields in it', () => {
    expect(ok(peer({ peerIP: '10.0.0.1', asNumber: 1, password: { secretKeyRef: { name: 's', key: 'k' } } })).spec).toMatchObject({
      password: { secretKeyRef: { name: 's', key: 'k' } },
    });
    expectError(peer({ peerIP: '10.0.0.1', asNumber: 1, password: { secretKeyRef: { name: 's', key: 'k', x: 1 } } }), 'spec.password.secretKeyRef.x', /unknown field/);
  });
});

describe('BGPConfiguration', () => {
  it('defaults asNumber 64512, mesh on and Info logging for "default"', () => {
    expect(ok(cfg({})).spec).toEqual({ logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512 });
  });
  it('a missing spec is an empty spec', () => {
    expect(ok({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' } }).spec).toMatchObject({ asNumber: 64512 });
  });
  it('does not default asNumber or mesh on a per-node configuration', () => {
    expect(ok(cfg({}, 'node.host1')).spec).toEqual({ logSeverityScreen: 'Info' });
  });
  it('keeps explicit values', () => {
    expect(ok(cfg({ nodeToNodeMeshEnabled: false, asNumber: '0.63400', listenPort: 178 })).spec).toMatchObject({
      nodeToNodeMeshEnabled: false,
      asNumber: 63400,
      listenPort: 178,
    });
  });
  it('validates logSeverityScreen and listenPort', () => {
    expectError(cfg({ logSeverityScreen: 'Verbose' }), 'spec.logSeverityScreen', /Debug/);
    expectError(cfg({ listenPort: 70000 }), 'spec.listenPort', /65535/);
  });
  it('validates service CIDRs as canonical CIDRs', () => {
    expect(ok(cfg({ serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] })).spec).toMatchObject({ serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] });
    expectError(cfg({ serviceClusterIPs: [{ cidr: '10.96.0.1/12' }] }), 'spec.serviceClusterIPs[0].cidr', /canonical form is 10\.96\.0\.0\/12/);
  });
  it('validates communities and prefix advertisements', () => {
    const spec = {
      communities: [{ name: 'big', value: '63400:300:100' }],
      prefixAdvertisements: [{ cidr: '172.218.4.0/26', communities: ['big', '63400:120'] }],
    };
    expect(ok(cfg(spec)).spec).toMatchObject(spec);
    expectError(cfg({ communities: [{ name: 'x', value: '70000:1' }] }), 'spec.communities[0].value', /not a BGP community/);
    expectError(cfg({ prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['nope'] }] }), 'spec.prefixAdvertisements[0].communities[0]', /neither a defined community/);
  });
  it('isCommunity knows standard and large communities', () => {
    expect(isCommunity('65535:65535')).toBe(true);
    expect(isCommunity('65536:1')).toBe(false);
    expect(isCommunity('4294967295:1:2')).toBe(true);
    expect(isCommunity('1')).toBe(false);
  });
});

describe('BGPFilter', () => {
  const filter = (spec: Record<string, unknown>) => v3('BGPFilter', 'f', spec);
  it("accepts Calico's sample: rules per direction and family", () => {
    const spec = {
      exportV4: [{ action: 'Accept', matchOperator: 'In', cidr: '77.0.0.0/16', source: 'RemotePeers' }, { action: 'Reject', interface: '*.calico' }],
      importV4: [{ action: 'Reject', matchOperator: 'NotIn', cidr: '44.0.0.0/16', prefixLength: { min: 24, max: 28 } }],
      importV6: [{ action: 'Accept', matchOperator: 'Equal', cidr: 'fd00::/64' }],
    };
    expect(ok(filter(spec)).spec).toEqual(spec);
  });
  it('names the field: cidr without matchOperator, the wrong family, bad lengths, unknown actions', () => {
    expectError(filter({ importV4: [{ action: 'Reject', cidr: '10.0.0.0/8' }] }), 'spec.importV4[0].matchOperator', /set together/);
    expectError(filter({ importV4: [{ action: 'Reject', matchOperator: 'In', cidr: 'fd00::/64' }] }), 'spec.importV4[0].cidr', /not an IPv4 CIDR/);
    expectError(filter({ exportV4: [{ action: 'Reject', matchOperator: 'In', cidr: '10.0.0.0/16', prefixLength: { min: 8 } }] }), 'spec.exportV4[0].prefixLength.min', /at least/);
    expectError(filter({ exportV6: [{ action: 'Reject', prefixLength: { min: 64, max: 48 } }] }), 'spec.exportV6[0].prefixLength', /min must not exceed max/);
    expectError(filter({ exportV4: [{ action: 'Drop' }] }), 'spec.exportV4[0].action', /./);
  });
});
