// create / apply / replace warn about what they store but tortie-node does not enforce.
import { describe, expect, it } from 'vitest';
import { resource } from '../../felix/policy/testing/fixtures.js';
import { enforcementWarnings } from './apply.js';

const gnp = (name: string, spec: Record<string, unknown>) => resource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec });

describe('enforcementWarnings', () => {
  it('names preDNAT and doNotTrack policies, nothing else', () => {
    expect(
      enforcementWarnings([
        gnp('pre', { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
        gnp('raw', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
        gnp('fwd', { applyOnForward: true, ingress: [{ action: 'Deny' }] }),
        resource({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'h' }, spec: { node: 'n', interfaceName: 'eth0' } }),
      ]),
    ).toEqual([
      'GlobalNetworkPolicy pre: preDNAT policy is stored but not enforced by tortie-node (host endpoints take normal and applyOnForward policy only)',
      'GlobalNetworkPolicy raw: doNotTrack policy is stored but not enforced by tortie-node (host endpoints take normal and applyOnForward policy only)',
    ]);
  });
});
