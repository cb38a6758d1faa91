import { describe, expect, it } from 'vitest';
import type { LabState } from './state.js';
import { resolveTarget } from './targets.js';

const pod = (namespace: string, name: string, ns: string) => ({ name, namespace, node: 'node1', ns, ip: '10.65.0.1', iface: 'cali0', labels: {} });
const lab = {
  etcdNs: 'x-etcd',
  nodes: [{ name: 'node1', ns: 'x-node1', ip: '10.0.0.11/24', subnet: 0, block: '', vtepMac: '' }],
  pods: [pod('shop', 'web', 'x-p1'), pod('default', 'web', 'x-p2'), pod('shop', 'db', 'x-p3')],
  attached: [{ name: 'rr1', ns: 'x-rr1', ip: '10.0.0.201/24', subnet: 0 }, { name: 'edge', ns: 'x-edge', ip: '10.0.0.200/24', subnet: 0 }],
  reflectors: ['rr1'],
} as unknown as LabState;

describe('tortie-lab exec targets', () => {
  it('a pod name two namespaces share is refused, naming both and the way out', () => {
    expect(() => resolveTarget(lab, 'web')).toThrow('pod web exists in namespaces shop, default: say which with -n NS or NS/web');
  });
  it('-n NS and NS/NAME pick the pod', () => {
    expect(resolveTarget(lab, 'web', 'shop')).toEqual({ kind: 'pod', name: 'shop/web', ns: 'x-p1' });
    expect(resolveTarget(lab, 'default/web')).toEqual({ kind: 'pod', name: 'default/web', ns: 'x-p2' });
    expect(() => resolveTarget(lab, 'shop/web', 'default')).toThrow(/names namespace shop but -n says default/);
    expect(() => resolveTarget(lab, 'db', 'default')).toThrow('no pod default/db (tortie-lab status lists the pods)');
  });
  it('a name only one namespace has needs no -n', () => {
    expect(resolveTarget(lab, 'db')).toEqual({ kind: 'pod', name: 'shop/db', ns: 'x-p3' });
  });
  it('nodes, reflectors, attached namespaces and etcd', () => {
    expect(resolveTarget(lab, 'node1').kind).toBe('node');
    expect(resolveTarget(lab, 'rr1').kind).toBe('reflector');
    expect(resolveTarget(lab, 'edge').kind).toBe('attached');
    expect(resolveTarget(lab, 'etcd').ns).toBe('x-etcd');
    const cluster = { ...lab, etcdNs: 'x-etcd1', etcdMembers: [1, 2, 3].map((i) => ({ name: `etcd${i}`, ns: `x-etcd${i}`, ip: `10.0.0.${1 + i}` })) } as LabState;
    expect(resolveTarget(cluster, 'etcd2')).toEqual({ kind: 'etcd', name: 'etcd2', ns: 'x-etcd2' });
    expect(() => resolveTarget(lab, 'nope')).toThrow(/no node, reflector, pod or attached namespace named "nope"/);
  });
});
