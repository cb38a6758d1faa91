import { describe, expect, it } from 'vitest';
import { withNamespace } from './apply.js';

describe('apply -n', () => {
  it('fills the namespace of namespaced documents, nested or pasted flat, and leaves global kinds', () => {
    expect(withNamespace({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: null, name: 'allow-all' }, 'production', 0)).toMatchObject({ namespace: 'production' });
    expect(withNamespace({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'p' } }, 'production', 0)).toMatchObject({ metadata: { name: 'p', namespace: 'production' } });
    const gnp = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' } };
    expect(withNamespace(gnp, 'production', 0)).toBe(gnp);
  });
  it('refuses a document naming another namespace', () => {
    expect(() => withNamespace({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x', namespace: 'default' } }, 'production', 1)).toThrow(/document 2: metadata.namespace "default" does not match -n "production"/);
  });
});
