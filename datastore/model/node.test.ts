import { describe, expect, it } from 'vitest';
import { expectError, ok, v3 } from './testutil.js';

const node = (spec: Record<string, unknown>, name = 'host-1') => v3('Node', name, spec);

describe('Node', () => {
  it('accepts the documented example', () => {
    const spec = {
      bgp: { asNumber: 64512, ipv4Address: '10.244.0.1/24', ipv6Address: '2001:db8:85a3::8a2e:370:7334/120', ipv4IPIPTunnelAddr: '192.168.0.1' },
      orchRefs: [{ nodeName: 'host-1', orchestrator: 'k8s' }],
    };
    expect(ok(node(spec)).spec).toEqual(spec);
  });
  it('requires ipv4Address in CIDR form (host bits allowed)', () => {
    expectError(node({ bgp: { ipv4Address: '10.0.0.5' } }), 'spec.bgp.ipv4Address', /CIDR form/);
    expectError(node({ bgp: { ipv4Address: 'fd00::1/64' } }), 'spec.bgp.ipv4Address', /IPv4/);
  });
  it('requires an IPv4-formatted routeReflectorClusterID', () => {
    expect(ok(node({ bgp: { routeReflectorClusterID: '224.0.0.1' } })).spec).toMatchObject({ bgp: { routeReflectorClusterID: '224.0.0.1' } });
    expectError(node({ bgp: { routeReflectorClusterID: 'cluster-1' } }), 'spec.bgp.routeReflectorClusterID', /IPv4/);
  });
  it('validates tunnel address and MAC', () => {
    expect(ok(node({ ipv4VXLANTunnelAddr: '10.0.0.1', vxlanTunnelMACAddr: '66:D0:16:AB:CD:EF' })).spec).toMatchObject({ vxlanTunnelMACAddr: '66:d0:16:ab:cd:ef' });
    expectError(node({ vxlanTunnelMACAddr: '66:d0:16' }), 'spec.vxlanTunnelMACAddr', /MAC/);
  });
  it('validates address types', () => {
    expectError(node({ addresses: [{ address: '10.0.0.1', type: 'Other' }] }), 'spec.addresses[0].type', /InternalIP/);
  });
  it('validates the AS number', () => {
    expectError(node({ bgp: { asNumber: -1 } }), 'spec.bgp.asNumber', /AS number/);
  });
  it('rejects unknown fields under bgp', () => {
    expectError(node({ bgp: { ipv4address: '10.0.0.1/24' } }), 'spec.bgp.ipv4address', /unknown field/);
  });
  it('carries status through', () => {
    expect(ok({ ...node({}), status: { podCIDRs: ['10.0.0.0/24'] } }).status).toEqual({ podCIDRs: ['10.0.0.0/24'] });
  });
});
