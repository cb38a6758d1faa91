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
