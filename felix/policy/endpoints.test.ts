// Datastore resources → what policy sees of an endpoint: labels merged from its profiles
// (namespace "pcns.", service account "pcsa."), its own labels winning.
import { describe, expect, it } from 'vitest';
import { computePolicyState } from './index.js';
import { policyEndpoint, profileInput } from './endpoints.js';
import { calcInput, networkPolicy, resource } from './testing/fixtures.js';
import type { ProfileInput } from './types.js';

const profile = (doc: unknown) => profileInput(resource(doc));
const ns = profile({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { team: 'a', shared: 'ns' } } });
const sa = profile({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'prod', labels: { tier: 'backend', shared: 'sa' } } });
const profiles = new Map<string, ProfileInput>([ns, sa].map((p) => [p.name, p]));

const wep = (labels: Record<string, string>, spec: Record<string, unknown> = {}) =>
  resource({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'n-k8s-p-eth0', namespace: 'prod', labels },
    spec: { orchestrator: 'k8s', node: 'n', pod: 'p', endpoint: 'eth0', interfaceName: 'cali0123456789a', ipNetworks: ['10.65.0.9/32'], profiles: ['kns.prod'], ...spec },
  });

describe('policyEndpoint', () => {
  it('merges namespace profile labels under the endpoint labels and adds the namespace/orchestrator labels', () => {
    const ep = policyEndpoint(wep({ app: 'x', shared: 'own' }), profiles);
    expect(ep).toMatchObject({ key: 'prod/n-k8s-p-eth0', iface: 'cali0123456789a', namespace: 'prod', ipNetworks: ['10.65.0.9/32'], profiles: ['kns.prod'] });
    expect(ep?.labels).toMatchObject({ app: 'x', shared: 'own', 'pcns.team': 'a', 'projectcalico.org/namespace': 'prod', 'projectcalico.org/orchestrator': 'k8s' });
  });
  it("takes the service account's pcsa. labels even when its ksa. profile is not listed", () => {
    const ep = policyEndpoint(wep({}, { serviceAccountName: 'api', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }), profiles);
    expect(ep?.labels).toMatchObject({ 'pcsa.projectcalico.org/name': 'api', 'pcsa.tier': 'backend', 'projectcalico.org/serviceaccount': 'api' });
    expect(ep?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);
    expect(ep?.serviceAccount).toBe('api');
  });
  it('is undefined for an endpoint without an interface yet', () => {
    expect(policyEndpoint(wep({}, { interfaceName: undefined }), profiles)).toBeUndefined();
  });
  it('serviceAccounts.selector and serviceAccountSelector match through those labels', () => {
    const ep = policyEndpoint(wep({}, { serviceAccountName: 'api' }), profiles);
    if (!ep) throw new Error('no endpoint');
    const bySaSelector = networkPolicy('prod', 'p', { selector: 'all()', serviceAccountSelector: "tier == 'backend'", ingress: [{ action: 'Allow', source: { serviceAccounts: { selector: "tier == 'backend'" } } }] });
    const s = computePolicyState(calcInput([ep], [bySaSelector], [ns, sa])).v4;
    const tw = s.chains.get('cali-tw-cali0123456789a')?.rules ?? [];
    expect(tw.some((r) => r.includes('cali-pi-prod_p'))).toBe(true);
    const set = /--match-set (\S+) src/.exec(s.chains.get('cali-pi-prod_p')?.rules[0] ?? '')?.[1] as string;
    expect(s.ipsets.get(set)?.members).toEqual(['10.65.0.9/32']);
  });
});
