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

describe('Calico BGP fields not acted on', () => {
  const v3 = (kind: string, name: string, spec: Record<string, unknown>) => resource({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name }, spec });
  it('names each stored-but-ignored field, and nothing for the fields Tortie honours', () => {
    expect(
      enforcementWarnings([
        v3('BGPPeer', 'tor', { peerIP: '10.0.0.1', asNumber: 65000, maxRestartTime: '5m', numAllowedLocalASNumbers: 2, failureDetectionMode: 'BFDIfDirectlyConnected', keepaliveTime: '10s', password: { secretKeyRef: { name: 's', key: 'k' } }, ttlSecurity: 1, filters: ['f'] }),
        v3('BGPConfiguration', 'default', { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], nodeMeshPassword: { secretKeyRef: { name: 's', key: 'm' } } }),
        v3('BGPConfiguration', 'node.n1', { serviceExternalIPs: [{ cidr: '192.0.2.0/24' }] }),
      ]),
    ).toEqual([
      'BGPPeer tor: spec.failureDetectionMode is stored but not acted on (BFD is not implemented)',
      'BGPPeer tor: spec.keepaliveTime is stored but not acted on (keepalives follow the negotiated hold time)',
      'BGPConfiguration node.n1: spec.serviceExternalIPs is stored but not acted on (service IPs are read from the default BGPConfiguration only)',
    ]);
  });
});
