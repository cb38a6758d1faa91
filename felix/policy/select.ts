// Which policies apply to an endpoint, in which order, and what labels selectors see. Calico's
// rules: a namespaced NetworkPolicy applies to endpoints of its namespace its selector matches; a
// GlobalNetworkPolicy to every endpoint its selector (and namespaceSelector, over the namespace's
// "pcns." labels) matches; serviceAccountSelector over the "pcsa." labels. Policies run by `order`
// (none = after every ordered one), ties broken by name. preDNAT / doNotTrack policies only
// apply to host endpoints, which this renderer does not handle.
import { compileSelector, NAMESPACE_LABEL, namespaceSelectorToEndpointSelector, prefixSelectorLabels, printSelector, parseSelector, type CompiledSelector, type Labels } from '../../datastore/selector/index.js';
import { SERVICE_ACCOUNT_LABEL, SERVICE_ACCOUNT_LABEL_PREFIX } from './compile.js';
import { policyId, type Direction } from './names.js';
import type { PolicyEndpoint, PolicyInput } from './types.js';

/** The endpoint's labels plus the ones Calico always sets (namespace, service account). */
export function endpointLabels(ep: PolicyEndpoint): Labels {
  const extra: Record<string, string> = {};
  if (ep.labels[NAMESPACE_LABEL] === undefined && ep.namespace) extra[NAMESPACE_LABEL] = ep.namespace;
  if (ep.serviceAccount && ep.labels[SERVICE_ACCOUNT_LABEL] === undefined) extra[SERVICE_ACCOUNT_LABEL] = ep.serviceAccount;
  return Object.keys(extra).length ? { ...ep.labels, ...extra } : ep.labels;
}

const selectorCache = new Map<string, CompiledSelector>();

/** Compiled selectors are pure functions of their text: one cache for the process. */
export function cachedSelector(text: string): CompiledSelector {
  let c = selectorCache.get(text);
  if (!c) {
    if (selectorCache.size > 50_000) selectorCache.clear();
    c = compileSelector(text);
    selectorCache.set(text, c);
  }
  return c;
}

/** The selector over endpoint labels a policy's own selection stands for (without the namespace
 *  clause of a namespaced policy, which is checked directly). */
export function policyEndpointSelector(p: PolicyInput): string {
  const parts = [p.spec.selector?.trim() ? p.spec.selector : 'all()'];
  const spec = p.spec as { namespaceSelector?: string; serviceAccountSelector?: string };
  if (p.namespace === undefined && spec.namespaceSelector?.trim()) parts.push(namespaceSelectorToEndpointSelector(spec.namespaceSelector));
  if (spec.serviceAccountSelector?.trim()) parts.push(printSelector(prefixSelectorLabels(parseSelector(spec.serviceAccountSelector), SERVICE_ACCOUNT_LABEL_PREFIX)));
  return parts.length === 1 ? parts[0] : parts.map((x) => `(${x})`).join(' && ');
}

/** Host-endpoint-only policies never apply to workloads. */
export function appliesToWorkloads(p: PolicyInput): boolean {
  const spec = p.spec as { preDNAT?: boolean; doNotTrack?: boolean };
  return !spec.preDNAT && !spec.doNotTrack;
}

export function policyApplies(p: PolicyInput, ep: PolicyEndpoint, labels: Labels = endpointLabels(ep)): boolean {
  if (!appliesToWorkloads(p)) return false;
  if (p.namespace !== undefined && p.namespace !== ep.namespace) return false;
  return cachedSelector(policyEndpointSelector(p)).matches(labels);
}

export function hasDirection(p: PolicyInput, dir: Direction): boolean {
  return p.spec.types.includes(dir === 'ingress' ? 'Ingress' : 'Egress');
}

/** Sort key: order (missing = +∞), then the policy's id ("name" or "namespace_name"). */
export function comparePolicies(a: PolicyInput, b: PolicyInput): number {
  const oa = a.spec.order ?? Number.POSITIVE_INFINITY;
  const ob = b.spec.order ?? Number.POSITIVE_INFINITY;
  if (oa !== ob) return oa < ob ? -1 : 1;
  const ia = policyId(a);
  const ib = policyId(b);
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

export function sortPolicies(ps: readonly PolicyInput[]): PolicyInput[] {
  return [...ps].sort(comparePolicies);
}

/** Policies (already sorted) that apply to `ep` in `dir`, in evaluation order. */
export function applicablePolicies(sorted: readonly PolicyInput[], ep: PolicyEndpoint, dir: Direction): PolicyInput[] {
  const labels = endpointLabels(ep);
  return sorted.filter((p) => hasDirection(p, dir) && policyApplies(p, ep, labels));
}
