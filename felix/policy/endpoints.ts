// Datastore resources → the renderer's inputs. A workload endpoint's labels are its own over the
// labels its profiles apply (kns.<namespace> brings the namespace's "pcns." labels, ksa.… the
// service account's "pcsa." ones), as Calico merges them: the endpoint's own win.
import type { Resource } from '../../datastore/model/resource.js';
import type { WorkloadEndpointSpec } from '../../datastore/model/endpoints.js';
import type { GlobalNetworkPolicySpec, NetworkPolicySpec, ProfileSpec } from '../../datastore/model/policy.js';
import { KSA_PREFIX } from '../../datastore/model/k8s.js';
import { NAMESPACE_LABEL } from '../../datastore/selector/index.js';
import { SERVICE_ACCOUNT_LABEL } from './compile.js';
import type { PolicyEndpoint, PolicyInput, ProfileInput } from './types.js';

export function profileInput(r: Resource): ProfileInput {
  return { name: r.metadata.name, spec: r.spec as ProfileSpec };
}

/** A NetworkPolicy (namespaced) or GlobalNetworkPolicy resource, validated by the client. */
export function policyInput(r: Resource): PolicyInput {
  if (r.kind === 'GlobalNetworkPolicy') return { name: r.metadata.name, spec: r.spec as GlobalNetworkPolicySpec };
  return { name: r.metadata.name, namespace: r.metadata.namespace ?? 'default', spec: r.spec as NetworkPolicySpec };
}

/** The key a workload endpoint resource gets: "namespace/name". */
export function endpointKey(r: Resource): string {
  return `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

/** A WorkloadEndpoint resource as policy sees it; undefined when it has no interface yet. */
export function policyEndpoint(r: Resource, profiles: ReadonlyMap<string, ProfileInput>): PolicyEndpoint | undefined {
  const spec = r.spec as WorkloadEndpointSpec;
  if (!spec.interfaceName) return undefined;
  const namespace = r.metadata.namespace ?? 'default';
  const profileNames = spec.profiles ?? [];
  const labels: Record<string, string> = {};
  // Calico's CNI lists the service account's profile too; ours may not: its labels count anyway.
  const labelSources = [...profileNames];
  const ksa = spec.serviceAccountName ? `${KSA_PREFIX}${namespace}.${spec.serviceAccountName}` : undefined;
  if (ksa && !labelSources.includes(ksa)) labelSources.push(ksa);
  // Earlier profiles win over later ones, the endpoint's own labels over all of them.
  for (const name of labelSources.reverse()) Object.assign(labels, profiles.get(name)?.spec.labelsToApply ?? {});
  Object.assign(labels, r.metadata.labels ?? {});
  labels[NAMESPACE_LABEL] ??= namespace;
  if (spec.orchestrator) labels['projectcalico.org/orchestrator'] ??= spec.orchestrator;
  if (spec.serviceAccountName) labels[SERVICE_ACCOUNT_LABEL] ??= spec.serviceAccountName;
  const ep: PolicyEndpoint = {
    key: endpointKey(r),
    iface: spec.interfaceName,
    namespace,
    ipNetworks: spec.ipNetworks ?? [],
    labels,
    profiles: profileNames,
  };
  if (spec.ports?.length) ep.ports = spec.ports.map((p) => ({ name: p.name, protocol: String(p.protocol), port: p.port }));
  if (spec.serviceAccountName) ep.serviceAccount = spec.serviceAccountName;
  return ep;
}

/** The node a workload endpoint lives on. */
export function endpointNode(r: Resource): string | undefined {
  return (r.spec as WorkloadEndpointSpec).node;
}
