import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateResource } from './index.js';

const KINDS = ['IPPool', 'BGPPeer', 'BGPConfiguration', 'Node', 'FelixConfiguration', 'NetworkPolicy', 'GlobalNetworkPolicy', 'Profile', 'HostEndpoint', 'WorkloadEndpoint', 'IPAMBlock', 'BlockAffinity', 'IPAMHandle', 'IPAMConfig'];
const V1_KINDS = ['ipPool', 'bgpPeer', 'policy', 'profile', 'hostEndpoint', 'workloadEndpoint', 'node'];

/** Values shaped like fields of our kinds, nested a little, with wrong types mixed in. */
const fieldish: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 65536, '', 'x', '10.0.0.0/16', '10.0.0.1', 'fd00::/48', 'all()', 'has(', 'Always', 'tcp', '80:90', {}),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('cidr', 'ipip', 'enabled', 'mode', 'peerIP', 'asNumber', 'node', 'ingress', 'egress', 'action', 'source', 'ports', 'selector', 'name', 'podSelector', 'from', 'ipBlock', 'matchLabels', 'labels', 'bgp', '__proto__', 'constructor'),
      tie('v'),
      { maxKeys: 4 },
    ),
  ),
})).v;

describe('validateResource never throws', () => {
  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const r = validateResource(input);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
  it('on documents of every kind with random fields, and always names a path on failure', () => {
    const doc = fc.record({
      apiVersion: fc.constantFrom('projectcalico.org/v3', 'v1', 'networking.k8s.io/v1'),
      kind: fc.constantFrom(...KINDS, ...V1_KINDS, 'NetworkPolicy', 'Namespace'),
      metadata: fc.oneof(fieldish, fc.record({ name: fc.constantFrom('a', 'default', 'Bad_Name', ''), cidr: fieldish, peerIP: fieldish })),
      spec: fieldish,
    });
    fc.assert(
      fc.property(doc, (input) => {
        const r = validateResource(input);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(typeof e.message).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
