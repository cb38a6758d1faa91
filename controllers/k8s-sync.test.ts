import { describe, expect, it } from 'vitest';
import { ownedBy, planSync, type SyncedObject } from './k8s-sync.js';

const knp = (name: string, spec: unknown = { order: 1000 }): SyncedObject => ({ kind: 'NetworkPolicy', name: `knp.default.${name}`, namespace: 'web', spec });

describe('etcd sync of Kubernetes-derived objects', () => {
  it('creates what is missing, replaces what differs and deletes what Kubernetes no longer has', () => {
    const plan = planSync('policy', [knp('new'), knp('changed', { order: 1000, types: ['Ingress'] }), knp('same')], [knp('changed'), knp('same'), knp('gone')]);
    expect(plan.upserts.map((o) => o.name)).toEqual(['knp.default.new', 'knp.default.changed']);
    expect(plan.deletes.map((o) => o.name)).toEqual(['knp.default.gone']);
  });

  it('compares specs whatever their key order', () => {
    expect(planSync('policy', [knp('a', { x: 1, y: [{ b: 2, a: 1 }] })], [knp('a', { y: [{ a: 1, b: 2 }], x: 1 })])).toEqual({ upserts: [], deletes: [] });
  });

  it('never touches objects without its prefix (a user’s own policy or profile)', () => {
    const mine: SyncedObject = { kind: 'NetworkPolicy', name: 'allow-dns', namespace: 'web', spec: {} };
    expect(planSync('policy', [], [mine])).toEqual({ upserts: [], deletes: [] });
    expect(ownedBy('namespace', { kind: 'Profile', name: 'kns.web' })).toBe(true);
    expect(ownedBy('namespace', { kind: 'Profile', name: 'ksa.web.default' })).toBe(false);
    expect(ownedBy('serviceaccount', { kind: 'Profile', name: 'ksa.web.default' })).toBe(true);
    expect(ownedBy('serviceaccount', { kind: 'Profile', name: 'my-profile' })).toBe(false);
  });

  it('keeps the same name apart in two namespaces', () => {
    const other = { ...knp('a'), namespace: 'db' };
    expect(planSync('policy', [knp('a'), other], [knp('a')]).upserts).toEqual([other]);
  });
});
