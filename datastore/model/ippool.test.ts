import { describe, expect, it } from 'vitest';
import { checkPoolOverlap } from './index.js';
import { errs, expectError, ok, v3 } from './testutil.js';

const pool = (spec: Record<string, unknown>, name = 'pool-a') => v3('IPPool', name, spec);

describe('IPPool', () => {
  it('fills Calico defaults for an IPv4 pool', () => {
    expect(ok(pool({ cidr: '10.200.0.0/16' })).spec).toEqual({
      cidr: '10.200.0.0/16',
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: false,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    });
  });
  it('defaults blockSize to 122 for an IPv6 pool', () => {
    expect(ok(pool({ cidr: 'fd00:10::/64' })).spec).toMatchObject({ blockSize: 122 });
  });
  it('keeps given values', () => {
    const spec = ok(pool({ cidr: '10.0.0.0/16', ipipMode: 'CrossSubnet', natOutgoing: true, blockSize: 24, nodeSelector: "zone == 'a'" })).spec;
    expect(spec).toMatchObject({ ipipMode: 'CrossSubnet', natOutgoing: true, blockSize: 24, nodeSelector: "zone == 'a'" });
  });
  it('rejects an invalid CIDR', () => {
    expectError(pool({ cidr: '10.0.0/16' }), 'spec.cidr', /not a valid CIDR/);
    expectError(pool({ cidr: '10.0.0.0/33' }), 'spec.cidr', /not a valid CIDR/);
    expectError(pool({ cidr: 'banana' }), 'spec.cidr', /not a valid CIDR/);
  });
  it('rejects host bits and says what the canonical form is', () => {
    expectError(pool({ cidr: '10.0.0.1/16' }), 'spec.cidr', /canonical form is 10\.0\.0\.0\/16/);
    expectError(pool({ cidr: 'fd00::1/64' }), 'spec.cidr', /canonical form is fd00::\/64/);
  });
  it('normalizes IPv6 spelling', () => {
    expect(ok(pool({ cidr: 'FD00:0:0:0::/64' })).spec).toMatchObject({ cidr: 'fd00::/64' });
  });
  it('requires cidr', () => {
    expectError(pool({}), 'spec.cidr', /required/);
  });
  it('rejects blockSize out of range for the family', () => {
    expectError(pool({ cidr: '10.0.0.0/8', blockSize: 19 }), 'spec.blockSize', /out of range for IPv4 \(20–32\)/);
    expectError(pool({ cidr: '10.0.0.0/8', blockSize: 33 }), 'spec.blockSize', /out of range/);
    expectError(pool({ cidr: 'fd00::/48', blockSize: 115 }), 'spec.blockSize', /out of range for IPv6 \(116–128\)/);
    expect(ok(pool({ cidr: 'fd00::/48', blockSize: 128 })).spec).toMatchObject({ blockSize: 128 });
  });
  it('rejects a block larger than the pool', () => {
    expectError(pool({ cidr: '10.0.0.0/28' }), 'spec.blockSize', /larger than the pool/);
    expect(ok(pool({ cidr: '10.0.0.0/26' })).spec).toMatchObject({ blockSize: 26 });
  });
  it('rejects ipip and vxlan both enabled', () => {
    expectError(pool({ cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'CrossSubnet' }), 'spec.vxlanMode', /cannot both be enabled/);
  });
  it('rejects IPIP on an IPv6 pool', () => {
    expectError(pool({ cidr: 'fd00::/48', ipipMode: 'Always' }), 'spec.ipipMode', /IPv6/);
  });
  it('rejects a bad encapsulation mode', () => {
    expectError(pool({ cidr: '10.0.0.0/16', ipipMode: 'always' }), 'spec.ipipMode', /Never.*Always.*CrossSubnet/);
  });
  it('rejects a pool overlapping link-local', () => {
    expectError(pool({ cidr: '169.254.0.0/16' }), 'spec.cidr', /link-local/);
  });
  it('rejects a bad nodeSelector with the selector position', () => {
    expectError(pool({ cidr: '10.0.0.0/16', nodeSelector: 'zone = "a"' }), 'spec.nodeSelector', /position 5/);
  });
  it('rejects unknown fields with their path', () => {
    expectError(pool({ cidr: '10.0.0.0/16', natOutGoing: true }), 'spec.natOutGoing', /unknown field/);
  });
  it('rejects LoadBalancer mixed with other uses', () => {
    expectError(pool({ cidr: '10.0.0.0/16', allowedUses: ['Workload', 'LoadBalancer'] }), 'spec.allowedUses', /LoadBalancer/);
  });
  it('requires a DNS-1123 subdomain name', () => {
    expectError(pool({ cidr: '10.0.0.0/16' }, 'Pool_A'), 'metadata.name', /not a valid name/);
    expectError(pool({ cidr: '10.0.0.0/16' }, ''), 'metadata.name', /required/);
  });
  it('is not namespaced', () => {
    expectError(v3('IPPool', 'p', { cidr: '10.0.0.0/16' }, { namespace: 'x' }), 'metadata.namespace', /not namespaced/);
  });
  it('reports every problem at once', () => {
    expect(errs(pool({ cidr: '10.0.0.1/16', ipipMode: 'x', extra: 1 }, 'BAD')).map((e) => e.path).sort()).toEqual([
      'metadata.name',
      'spec.cidr',
      'spec.extra',
      'spec.ipipMode',
    ]);
  });
  it('reports host bits, an unknown field and ipip+vxlan together', () => {
    expect(errs(pool({ cidr: '10.0.0.1/16', ipipMode: 'Always', vxlanMode: 'Always', foo: 1 })).map((e) => e.path).sort()).toEqual([
      'spec.cidr',
      'spec.foo',
      'spec.vxlanMode',
    ]);
  });
});

describe('checkPoolOverlap', () => {
  const p = (name: string, cidr: string) => ({ metadata: { name }, spec: { cidr } });
  it('finds overlapping pools', () => {
    expect(checkPoolOverlap([p('a', '10.0.0.0/16'), p('b', '10.0.128.0/17')])).toEqual([
      { pool: 'a', other: 'b', message: 'IPPool a (10.0.0.0/16) overlaps IPPool b (10.0.128.0/17)' },
    ]);
  });
  it('passes disjoint pools and different families', () => {
    expect(checkPoolOverlap([p('a', '10.0.0.0/16'), p('b', '10.1.0.0/16'), p('c', 'fd00::/48')])).toEqual([]);
  });
  it('ignores a pool compared with itself by name (an update)', () => {
    expect(checkPoolOverlap([p('a', '10.0.0.0/16'), p('a', '10.0.0.0/15')])).toEqual([]);
  });
  it('detects identical CIDRs and IPv6 nesting', () => {
    expect(checkPoolOverlap([p('a', '10.0.0.0/16'), p('b', '10.0.0.0/16')])).toHaveLength(1);
    expect(checkPoolOverlap([p('a', 'fd00::/48'), p('b', 'fd00:0:0:1::/64')])).toHaveLength(1);
  });
});
