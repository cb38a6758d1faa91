import { describe, expect, it } from 'vitest';
import { expectError, ok, v3 } from './testutil.js';

describe('HostEndpoint', () => {
  it('accepts an interface endpoint with ports', () => {
    const spec = { node: 'host-1', interfaceName: 'eth0', expectedIPs: ['10.0.0.1'], profiles: ['p1'], ports: [{ name: 'ssh', protocol: 'TCP', port: 22 }] };
    expect(ok(v3('HostEndpoint', 'host-1-eth0', spec)).spec).toEqual(spec);
  });
  it('requires interfaceName or expectedIPs', () => {
    expectError(v3('HostEndpoint', 'h', { node: 'host-1' }), 'spec.interfaceName', /one of interfaceName or expectedIPs/);
  });
  it('validates expected IPs', () => {
    expectError(v3('HostEndpoint', 'h', { expectedIPs: ['10.0.0'] }), 'spec.expectedIPs[0]', /not a valid IPv4 or IPv6 address/);
  });
});

describe('WorkloadEndpoint', () => {
  const spec = {
    orchestrator: 'k8s',
    node: 'host-1',
    pod: 'nginx',
    endpoint: 'eth0',
    ipNetworks: ['10.200.1.5/32'],
    profiles: ['kns.default'],
    interfaceName: 'cali0123456789a',
    mac: 'ee:ee:ee:ee:ee:ee',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 8080 }],
  };
  it('is namespaced and accepts the generated name form', () => {
    const r = ok(v3('WorkloadEndpoint', 'host--1-k8s-nginx-eth0', spec, { namespace: 'prod' }));
    expect(r.metadata.namespace).toBe('prod');
    expect(r.spec).toEqual(spec);
  });
  it('limits interface names to 15 characters', () => {
    expectError(v3('WorkloadEndpoint', 'w', { interfaceName: 'cali0123456789abc' }), 'spec.interfaceName', /15/);
  });
});
