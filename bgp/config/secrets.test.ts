import { describe, expect, it } from 'vitest';
import { kubeSecretReader, resolvePasswords, type SecretReader } from './secrets.js';
import type { ComputedPeer } from './types.js';

const peer = (name: string, ref?: { name: string; key: string }): ComputedPeer => ({
  name,
  address: '10.0.0.9',
  asNumber: 65000,
  type: 'global',
  family: 4,
  passive: false,
  rrClient: false,
  ...(ref ? { passwordRef: ref } : {}),
});

/** Secrets held in a map, as the Kubernetes API would return them. */
const reader = (secrets: Record<string, Record<string, string>>): SecretReader & { reads: number } => {
  const r = {
    where: 'Kubernetes namespace kube-system',
    reads: 0,
    read: async (ref: { name: string; key: string }) => {
      r.reads++;
      return secrets[ref.name]?.[ref.key];
    },
  };
  return r;
};

describe('BGP passwords from secretKeyRef', () => {
  it('fills the password in from the Secret, reading each key once', async () => {
    const src = reader({ bgp: { tor: 's3cret' } });
    const r = await resolvePasswords([peer('a', { name: 'bgp', key: 'tor' }), peer('b', { name: 'bgp', key: 'tor' }), peer('c')], src);
    expect(r.peers.map((p) => p.password)).toEqual(['s3cret', 's3cret', undefined]);
    expect(src.reads).toBe(1);
    expect(r.notes).toEqual([]);
  });

  it('without a Kubernetes API the peer runs without a password, and a note says why', async () => {
    const r = await resolvePasswords([peer('Global_10_0_0_9', { name: 'bgp', key: 'tor' })], undefined);
    expect(r.peers[0].password).toBeUndefined();
    expect(r.notes).toEqual(['Global_10_0_0_9: password secretKeyRef bgp/tor cannot be read: no Kubernetes API configured (KUBECONFIG or in-cluster); peering without a password']);
  });

  it('a missing Secret or key, an over-long password and an API failure each leave a note', async () => {
    const failing: SecretReader = { where: 'here', read: () => Promise.reject(new Error('forbidden')) };
    const long = await resolvePasswords([peer('a', { name: 'bgp', key: 'k' })], reader({ bgp: { k: 'x'.repeat(81) } }));
    const missing = await resolvePasswords([peer('a', { name: 'bgp', key: 'other' })], reader({ bgp: { k: 'v' } }));
    const failed = await resolvePasswords([peer('a', { name: 'bgp', key: 'k' })], failing);
    for (const r of [long, missing, failed]) expect(r.peers[0].password).toBeUndefined();
    expect(long.notes[0]).toMatch(/1 to 80 bytes/);
    expect(missing.notes[0]).toMatch(/no such Secret or key in Kubernetes namespace kube-system/);
    expect(failed.notes[0]).toMatch(/failed \(forbidden\)/);
  });

  it('reads through the Kubernetes API only when one is configured', () => {
    expect(kubeSecretReader({})).toBeUndefined();
    expect(kubeSecretReader({ KUBERNETES_SERVICE_HOST: '10.96.0.1' })?.where).toBe('Kubernetes namespace kube-system');
    expect(kubeSecretReader({ KUBECONFIG: '/etc/kubeconfig', NAMESPACE: 'calico-system' })?.where).toBe('Kubernetes namespace calico-system');
  });
});
