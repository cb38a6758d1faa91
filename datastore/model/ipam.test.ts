import { describe, expect, it } from 'vitest';
import { expectError, ok, v3 } from './testutil.js';

describe('IPAM kinds', () => {
  it('IPAMBlock carries allocations and defaults the flags', () => {
    const r = ok(v3('IPAMBlock', '10-200-1-0-26', { cidr: '10.200.1.0/26', affinity: 'host:host-1', allocations: [0, null], unallocated: [1], attributes: [{ handle_id: 'h', secondary: null }] }));
    expect(r.spec).toMatchObject({ strictAffinity: false, deleted: false, allocations: [0, null] });
  });
  it('BlockAffinity state is one of confirmed, pending, pendingDeletion', () => {
    ok(v3('BlockAffinity', 'host-1-10-200-1-0-26', { state: 'confirmed', node: 'host-1', cidr: '10.200.1.0/26' }));
    expectError(v3('BlockAffinity', 'a', { state: 'done', node: 'n', cidr: '10.0.0.0/26' }), 'spec.state', /confirmed/);
  });
  it('IPAMHandle maps block CIDRs to counts', () => {
    ok(v3('IPAMHandle', 'k8s-pod-network.abc', { handleID: 'k8s-pod-network.abc', block: { '10.200.1.0/26': 1 } }));
  });
  it('IPAMConfig defaults and must be named default', () => {
    expect(ok(v3('IPAMConfig', 'default', {})).spec).toEqual({ strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    expectError(v3('IPAMConfig', 'other', {}), 'metadata.name', /only allowed name is "default"/);
  });
});
