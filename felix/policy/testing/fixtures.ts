// Builders for the policy tests: resources go through the real model (validateResource), so specs
// are normalized exactly as the datastore stores them, then through the real endpoint builder.
import { validateResource } from '../../../datastore/model/index.js';
import type { Resource } from '../../../datastore/model/resource.js';
import { policyEndpoint, policyInput, profileInput } from '../endpoints.js';
import type { PolicyCalcInput, PolicyEndpoint, PolicyInput, ProfileInput } from '../types.js';

export function resource(doc: unknown): Resource {
  const r = validateResource(doc);
  if (!r.ok) throw new Error(`invalid fixture: ${JSON.stringify(r.errors)}`);
  return r.resource;
}

export function networkPolicy(namespace: string, name: string, spec: Record<string, unknown>): PolicyInput {
  return policyInput(resource({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name, namespace }, spec }));
}

export function globalPolicy(name: string, spec: Record<string, unknown>): PolicyInput {
  return policyInput(resource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec }));
}

/** A Kubernetes networking.k8s.io/v1 NetworkPolicy, converted as `tortiectl apply` converts it. */
export function k8sPolicy(namespace: string, name: string, spec: Record<string, unknown>): PolicyInput {
  return policyInput(resource({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec }));
}

/** The kns.<name> profile a Kubernetes Namespace becomes. */
export function namespaceProfile(name: string, labels: Record<string, string> = {}): ProfileInput {
  return profileInput(resource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
}

export interface PodOptions {
  labels?: Record<string, string>;
  ips?: string[];
  ports?: { name: string; protocol: string; port: number }[];
  serviceAccount?: string;
  node?: string;
}

let ifaceCounter = 0;

/** A pod's WorkloadEndpoint as the CNI plugin writes it, then as policy sees it. */
export function pod(namespace: string, name: string, opts: PodOptions, profiles: readonly ProfileInput[]): PolicyEndpoint {
  const iface = `cali${(++ifaceCounter).toString(16).padStart(11, '0')}`;
  const spec: Record<string, unknown> = {
    orchestrator: 'k8s',
    node: opts.node ?? 'node-a',
    pod: name,
    endpoint: 'eth0',
    interfaceName: iface,
    ipNetworks: opts.ips ?? [],
    profiles: [`kns.${namespace}`],
  };
  if (opts.ports) spec.ports = opts.ports;
  if (opts.serviceAccount) spec.serviceAccountName = opts.serviceAccount;
  const wep = resource({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: `node--a-k8s-${name}-eth0`, namespace, labels: { ...opts.labels, 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' } },
    spec,
  });
  const ep = policyEndpoint(wep, new Map(profiles.map((p) => [p.name, p])));
  if (!ep) throw new Error('fixture pod without interface');
  return { ...ep, key: `${namespace}/${name}` };
}

export function calcInput(endpoints: PolicyEndpoint[], policies: PolicyInput[], profiles: ProfileInput[], local: PolicyEndpoint[] = endpoints): PolicyCalcInput {
  return { hostname: 'node-a', localEndpoints: local, allEndpoints: endpoints, policies, profiles };
}

/** A model using every kind of match and action the renderer emits, in both families. */
export function everyRuleKind(): PolicyCalcInput {
  const profiles = [namespaceProfile('a', { team: 'x' }), namespaceProfile('b')];
  const eps = [
    pod('a', 'x', { labels: { app: 'web' }, ips: ['10.65.0.1/32', 'fd00::1/128'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }, profiles),
    pod('b', 'y', { labels: { app: 'db' }, ips: ['10.65.0.2/32', 'fd00::2/128'] }, profiles),
  ];
  const policies = [
    k8sPolicy('a', 'tnp', {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24', '172.17.2.0/24'] } }, { namespaceSelector: { matchLabels: { team: 'x' } } }],
          ports: [{ protocol: 'TCP', port: 'http' }, { protocol: 'UDP', port: 53, endPort: 60 }, { protocol: 'SCTP', port: 9 }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }],
    }),
    globalPolicy('g', {
      order: 1,
      ingress: [
        { action: 'Pass', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
        { action: 'Log' },
        { action: 'Deny', protocol: 'ICMP', notICMP: { type: 3 } },
        { action: 'Deny', protocol: 47 },
        { action: 'Deny', protocol: 'TCP', source: { nets: ['10.1.0.0/16'], notNets: ['10.1.1.0/24'] }, destination: { nets: ['10.65.0.0/24'], notNets: ['10.65.0.128/25'] } },
        { action: 'Deny', notProtocol: 'UDPLite' },
        { action: 'Allow', protocol: 'UDPLite', source: { ports: ['1:1023'], notPorts: [5] } },
      ],
      egress: [
        { action: 'Deny', protocol: 'ICMPv6', icmp: { type: 128 }, destination: { notNets: ['fd00::/64', 'fd01::/64'] } },
        { action: 'Allow', protocol: 'ICMPv6', notICMP: { type: 1, code: 3 }, destination: { notNets: ['fd00::/64'], nets: ['fd02::/64', 'fd03::/64'] } },
      ],
    }),
    networkPolicy('b', 'n', {
      egress: [{ action: 'Allow', protocol: 'UDP', destination: { notPorts: ['http', 53], notSelector: "app == 'web'", selector: 'all()', ports: Array.from({ length: 20 }, (_, i) => 1000 + i) } }],
    }),
  ];
  return calcInput(eps, policies, profiles);
}
