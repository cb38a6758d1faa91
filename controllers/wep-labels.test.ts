import { describe, expect, it } from 'vitest';
import { planWepLabels, type WepLabels } from './wep-labels.js';

const wep = (labels: Record<string, string>): WepLabels => ({
  name: 'n1-k8s-web-eth0',
  namespace: 'shop',
  pod: 'web',
  labels: { 'projectcalico.org/namespace': 'shop', 'projectcalico.org/orchestrator': 'k8s', ...labels },
});

describe('workloadendpoint label sync (etcd)', () => {
  it('puts the pod’s current labels on its endpoint, keeping Calico’s own', () => {
    expect(planWepLabels([wep({ app: 'web', tier: 'old' })], new Map([['shop/web', { app: 'web', version: '2' }]]))).toEqual([
      wep({ app: 'web', version: '2' }),
    ]);
  });

  it('writes nothing when the labels already match or the pod is unknown', () => {
    expect(planWepLabels([wep({ app: 'web' })], new Map([['shop/web', { app: 'web' }]]))).toEqual([]);
    expect(planWepLabels([wep({ app: 'web' })], new Map())).toEqual([]);
  });

  it('never lets a pod label override a projectcalico.org/ label', () => {
    expect(planWepLabels([wep({})], new Map([['shop/web', { 'projectcalico.org/namespace': 'evil' }]]))).toEqual([]);
  });
});
