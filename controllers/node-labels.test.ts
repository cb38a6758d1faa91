import { describe, expect, it } from 'vitest';
import { parseKubeLabels, planLabelSync } from './node-labels.js';

describe('node label sync (etcd)', () => {
  it('copies Kubernetes labels onto the Calico Node and records them in projectcalico.org/kube-labels', () => {
    const updates = planLabelSync(new Map([['n1', { zone: 'a' }]]), new Map([['n1', { labels: { 'route-reflector': 'true' } }]]));
    expect(updates).toEqual([{ node: 'n1', labels: { 'route-reflector': 'true', zone: 'a' }, kubeLabels: { zone: 'a' } }]);
  });

  it('removes a label removed in Kubernetes, keeping labels set on the Calico Node by hand', () => {
    const updates = planLabelSync(new Map([['n1', {}]]), new Map([['n1', { labels: { zone: 'a', rack: '7' }, kubeLabels: { zone: 'a' } }]]));
    expect(updates).toEqual([{ node: 'n1', labels: { rack: '7' }, kubeLabels: {} }]);
  });

  it('lets Kubernetes win a label both set, and writes nothing when already in sync', () => {
    expect(planLabelSync(new Map([['n1', { zone: 'b' }]]), new Map([['n1', { labels: { zone: 'a' }, kubeLabels: {} }]]))).toEqual([
      { node: 'n1', labels: { zone: 'b' }, kubeLabels: { zone: 'b' } },
    ]);
    expect(planLabelSync(new Map([['n1', { zone: 'b' }]]), new Map([['n1', { labels: { zone: 'b' }, kubeLabels: { zone: 'b' } }]]))).toEqual([]);
  });

  it('never creates a Calico Node', () => {
    expect(planLabelSync(new Map([['n9', { zone: 'a' }]]), new Map())).toEqual([]);
  });

  it('reads an unreadable annotation as absent', () => {
    expect(parseKubeLabels('{nope')).toBeUndefined();
    expect(parseKubeLabels('{"a":"1","b":2}')).toEqual({ a: '1' });
  });
});
