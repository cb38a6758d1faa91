import { describe, expect, it } from 'vitest';
import { planNodeGc, tunnelHost, type Allocation, type NodeGcInput } from './node-gc.js';

const MIN = 60_000;

function input(over: Partial<NodeGcInput>): NodeGcInput {
  return {
    now: 100 * MIN,
    graceMs: 15 * MIN,
    kubeNodes: new Set(['a', 'b']),
    deletedKubeNodes: new Set(),
    pods: [],
    allocations: [],
    affinityHosts: new Set(['a', 'b']),
    leakSince: new Map(),
    ...over,
  };
}

const pod = (host: string, name: string, ip: string, seq = 1): Allocation => ({
  ip,
  sequenceNumber: seq,
  handle: `k8s-pod-network.${name}-cid`,
  host,
  namespace: 'default',
  pod: name,
});

describe('node controller: deleted nodes', () => {
  it('releases every address and the affinities of a host that is no Kubernetes Node, at once', () => {
    const plan = planNodeGc(
      input({
        kubeNodes: new Set(['a']),
        pods: [{ namespace: 'default', name: 'p1', ips: ['10.0.1.1'] }],
        allocations: [pod('a', 'p0', '10.0.0.1'), pod('b', 'p1', '10.0.1.1'), { ip: '10.0.1.0', handle: 'ipip-tunnel-addr-b', host: 'b' }],
      }),
    );
    expect(plan.actions).toEqual([
      { kind: 'release-ips', reason: 'node-deleted', ips: [{ ip: '10.0.1.1', sequenceNumber: 1 }, { ip: '10.0.1.0' }] },
      // p0 on the live host a has no pod: only a candidate for now
      { kind: 'release-affinities', node: 'b' },
    ]);
    expect(plan.pendingLeaks).toBe(1);
  });

  it('on etcd deletes the Calico Node of a deleted Kubernetes Node, and leaves a route reflector alone', () => {
    const plan = planNodeGc(
      input({
        kubeNodes: new Set(['a']),
        affinityHosts: new Set(['a', 'b', 'c']),
        deletedKubeNodes: new Set(['b']),
        calicoNodes: new Map([
          ['a', { kubernetes: false }],
          ['b', { kubernetes: false }],
          ['c', { kubernetes: true }],
          ['rr-10-0-0-100', { kubernetes: false }],
        ]),
      }),
    );
    expect(plan.actions).toEqual([
      { kind: 'delete-calico-node', node: 'b' },
      { kind: 'delete-calico-node', node: 'c' },
      { kind: 'release-affinities', node: 'b' },
      { kind: 'release-affinities', node: 'c' },
    ]);
  });

  it('on etcd releases the IPAM of a host whose Calico Node is already gone', () => {
    const plan = planNodeGc(input({ kubeNodes: new Set(['a']), calicoNodes: new Map([['a', { kubernetes: false }]]) }));
    expect(plan.actions).toEqual([{ kind: 'release-affinities', node: 'b' }]);
  });

  it('does nothing when every host is a Kubernetes Node and every address is held', () => {
    const plan = planNodeGc(
      input({ pods: [{ namespace: 'default', name: 'p', ips: ['10.0.0.1'] }], allocations: [pod('a', 'p', '10.0.0.1'), { ip: '10.0.0.0', handle: 'ipip-tunnel-addr-a', host: 'a' }] }),
    );
    expect(plan).toEqual({ actions: [], leakSince: new Map(), pendingLeaks: 0 });
  });
});

describe('node controller: leaked addresses', () => {
  const leaked = pod('a', 'gone', '10.0.0.7', 3);

  it('remembers a candidate the first time and releases it once the grace period has passed', () => {
    const first = planNodeGc(input({ allocations: [leaked] }));
    expect(first.actions).toEqual([]);
    expect([...first.leakSince]).toEqual([['10.0.0.7#3', 100 * MIN]]);
    const early = planNodeGc(input({ now: 114 * MIN, allocations: [leaked], leakSince: first.leakSince }));
    expect(early.actions).toEqual([]);
    const ripe = planNodeGc(input({ now: 115 * MIN, allocations: [leaked], leakSince: early.leakSince }));
    expect(ripe.actions).toEqual([{ kind: 'release-ips', reason: 'leaked', ips: [{ ip: '10.0.0.7', sequenceNumber: 3 }] }]);
    expect(ripe.pendingLeaks).toBe(0);
  });

  it('counts an address re-allocated (new sequence number) as a new candidate', () => {
    const plan = planNodeGc(input({ now: 200 * MIN, allocations: [{ ...leaked, sequenceNumber: 4 }], leakSince: new Map([['10.0.0.7#3', 0]]) }));
    expect(plan.actions).toEqual([]);
    expect([...plan.leakSince.keys()]).toEqual(['10.0.0.7#4']);
  });

  it('forgets a candidate whose pod shows up holding it', () => {
    const plan = planNodeGc(
      input({ allocations: [leaked], pods: [{ namespace: 'default', name: 'gone', ips: ['10.0.0.7'] }], leakSince: new Map([['10.0.0.7#3', 0]]) }),
    );
    expect(plan).toEqual({ actions: [], leakSince: new Map(), pendingLeaks: 0 });
  });

  it('treats an address its pod does not hold (the pod got another) as a candidate', () => {
    const plan = planNodeGc(input({ allocations: [leaked], pods: [{ namespace: 'default', name: 'gone', ips: ['10.0.0.9'] }] }));
    expect(plan.pendingLeaks).toBe(1);
  });

  it('leaves alone the address of a pod with none recorded yet (CNI ADD in flight)', () => {
    const plan = planNodeGc(input({ allocations: [leaked], pods: [{ namespace: 'default', name: 'gone', ips: [] }], leakSince: new Map([['10.0.0.7#3', 0]]) }));
    expect(plan.pendingLeaks).toBe(0);
    expect(plan.actions).toEqual([]);
  });

  it('never collects addresses that are not a pod’s (tunnel, tortiectl ipam assign)', () => {
    const plan = planNodeGc(input({ allocations: [{ ip: '10.0.0.0', handle: 'ipip-tunnel-addr-a', host: 'a' }, { ip: '10.0.0.5', handle: 'manual', host: 'a' }] }));
    expect(plan.pendingLeaks).toBe(0);
  });

  it('with a grace period of 0 collects no leaks, as Calico’s leakGracePeriod: 0', () => {
    const plan = planNodeGc(input({ graceMs: 0, allocations: [leaked], leakSince: new Map([['10.0.0.7#3', 0]]) }));
    expect(plan.actions).toEqual([]);
  });
});

describe('tunnelHost', () => {
  it('reads the host from Calico’s tunnel handles', () => {
    expect(tunnelHost('vxlan-tunnel-addr-node-1')).toBe('node-1');
    expect(tunnelHost('k8s-pod-network.abc')).toBeUndefined();
    expect(tunnelHost(null)).toBeUndefined();
  });
});
