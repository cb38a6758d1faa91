// Kubernetes objects Calico derives its own from, converted as Calico's converter does: a
// networking.k8s.io/v1 NetworkPolicy becomes the Calico NetworkPolicy "knp.default.<name>"
// (order 1000, pods selected with projectcalico.org/orchestrator == 'k8s', one Allow rule per
// protocol × peer), and a Namespace becomes the Profile "kns.<name>" whose labelsToApply carry
// the namespace labels with the "pcns." prefix. A rule's namespaceSelector stays over namespace
// labels, as in hand-written Calico policy; selector/namespace.ts maps it onto those prefixed
// endpoint labels. A ServiceAccount becomes the Profile "ksa.<namespace>.<name>" carrying its
// labels with the "pcsa." prefix. Pure.
import { z } from 'zod';
import { NAMESPACE_LABEL_PREFIX } from '../selector/index.js';
import type { Conversion } from './convert.js';
import { zodToFieldErrors } from './errors.js';
import { isFlat, isRecord, unflatten } from './flat.js';
import { canonicalCidrSchema, isDns1123Label, isDns1123Subdomain, isLabelValue, isQualifiedName, labelsSchema } from './fields.js';
import { API_VERSION } from './resource.js';

export const KNP_PREFIX = 'knp.default.';
export const KNS_PREFIX = 'kns.';
export const KSA_PREFIX = 'ksa.';
/** Prefix of service-account labels on endpoints, as Calico's "pcsa." (selector/serviceAccounts). */
export const SA_LABEL_PREFIX = 'pcsa.';
export const NS_LABEL_PREFIX = NAMESPACE_LABEL_PREFIX;
export const K8S_ORCHESTRATOR_SELECTOR = "projectcalico.org/orchestrator == 'k8s'";
export const KNP_ORDER = 1000;

const labelSelector = z
  .object({
    // Validated as labels so the generated selector text is always well formed.
    matchLabels: labelsSchema.optional(),
    matchExpressions: z
      .array(
        z
          .object({
            key: z.string().refine(isQualifiedName, 'not a valid label key'),
            operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
            values: z.array(z.string().refine(isLabelValue, 'not a valid label value')).optional(),
          })
          .strict()
          .superRefine((e, ctx) => {
            const needs = e.operator === 'In' || e.operator === 'NotIn';
            if (needs && !e.values?.length) ctx.addIssue({ code: 'custom', path: ['values'], message: `${e.operator} needs at least one value` });
            if (!needs && e.values?.length) ctx.addIssue({ code: 'custom', path: ['values'], message: `${e.operator} takes no values` });
          }),
      )
      .optional(),
  })
  .strict();

type LabelSelector = z.output<typeof labelSelector>;

const peer = z
  .object({
    podSelector: labelSelector.optional(),
    namespaceSelector: labelSelector.optional(),
    ipBlock: z.object({ cidr: canonicalCidrSchema, except: z.array(canonicalCidrSchema).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.ipBlock && (p.podSelector || p.namespaceSelector)) {
      ctx.addIssue({ code: 'custom', path: ['ipBlock'], message: 'ipBlock cannot be combined with podSelector or namespaceSelector' });
    }
    if (!p.ipBlock && !p.podSelector && !p.namespaceSelector) {
      ctx.addIssue({ code: 'custom', message: 'a peer needs podSelector, namespaceSelector or ipBlock' });
    }
  });

type Peer = z.output<typeof peer>;

const port = z
  .object({
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
    port: z.union([z.number().int().min(1).max(65535), z.string().min(1)]).optional(),
    endPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.endPort === undefined) return;
    if (typeof p.port !== 'number') ctx.addIssue({ code: 'custom', path: ['endPort'], message: 'endPort needs a numeric port' });
    else if (p.endPort < p.port) ctx.addIssue({ code: 'custom', path: ['endPort'], message: 'endPort must not be less than port' });
  });

type Port = z.output<typeof port>;

const k8sMeta = z
  .object({ name: z.string().refine(isDns1123Subdomain, 'not a valid name (a DNS-1123 subdomain: lower-case alphanumerics, "-" and ".")'), namespace: z.string().refine(isDns1123Label, 'not a valid namespace').optional(), labels: labelsSchema.optional() })
  .passthrough();

const k8sNetworkPolicy = z
  .object({
    apiVersion: z.literal('networking.k8s.io/v1'),
    kind: z.literal('NetworkPolicy'),
    metadata: k8sMeta,
    spec: z
      .object({
        podSelector: labelSelector,
        policyTypes: z.array(z.enum(['Ingress', 'Egress'])).optional(),
        ingress: z.array(z.object({ from: z.array(peer).optional(), ports: z.array(port).optional() }).strict()).optional(),
        egress: z.array(z.object({ to: z.array(peer).optional(), ports: z.array(port).optional() }).strict()).optional(),
      })
      .strict(),
    status: z.unknown().optional(),
  })
  .strict();

export type K8sNetworkPolicy = z.output<typeof k8sNetworkPolicy>;

const k8sNamespace = z
  .object({ apiVersion: z.literal('v1'), kind: z.literal('Namespace'), metadata: k8sMeta, spec: z.unknown().optional(), status: z.unknown().optional() })
  .strict();

const q = (s: string) => `'${s}'`;

/**
 * A Kubernetes label selector as a Calico selector over the same labels, terms in Calico's
 * order (matchLabels by key, then matchExpressions). Empty → all().
 */
export function labelSelectorToCalico(sel: LabelSelector): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) parts.push(`${k} == ${q(v)}`);
  for (const e of sel.matchExpressions ?? []) {
    const set = `{${(e.values ?? []).map(q).join(', ')}}`;
    if (e.operator === 'In') parts.push(`${e.key} in ${set}`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} not in ${set}`);
    else if (e.operator === 'Exists') parts.push(`has(${e.key})`);
    else parts.push(`!has(${e.key})`);
  }
  return parts.length ? parts.join(' && ') : 'all()';
}

/** Pod selectors pin the orchestrator first, so they never match host endpoints. */
export function podSelectorToCalico(sel: LabelSelector | undefined): string {
  const s = sel ? labelSelectorToCalico(sel) : 'all()';
  return s === 'all()' ? K8S_ORCHESTRATOR_SELECTOR : `${K8S_ORCHESTRATOR_SELECTOR} && ${s}`;
}

type Entity = Record<string, unknown>;

/**
 * As Calico: an ipBlock gives nets/notNets; otherwise the selector is always the pod selector
 * (orchestrator clause even when only namespaceSelector is given) and namespaceSelector is over
 * the namespaces' own labels (felix reaches them through the "pcns." profile labels).
 */
function peerToEntity(p: Peer): Entity {
  if (p.ipBlock) return p.ipBlock.except?.length ? { nets: [p.ipBlock.cidr], notNets: p.ipBlock.except } : { nets: [p.ipBlock.cidr] };
  const e: Entity = { selector: podSelectorToCalico(p.podSelector) };
  if (p.namespaceSelector) e.namespaceSelector = labelSelectorToCalico(p.namespaceSelector);
  return e;
}

type CalicoPort = number | string;

/** Calico's SimplifyPorts: named ports as given, numeric ports sorted and coalesced into ranges. */
export function simplifyPorts(ports: CalicoPort[]): CalicoPort[] {
  const named: CalicoPort[] = [];
  const numbers: number[] = [];
  for (const p of ports) {
    const range = typeof p === 'number' ? [p, p] : /^\d+:\d+$/.test(p) ? p.split(':').map(Number) : undefined;
    if (!range) named.push(p);
    else for (let i = range[0]; i <= range[1]; i++) numbers.push(i);
  }
  if (ports.length <= 1 || numbers.length <= 1) return ports;
  numbers.sort((a, b) => a - b);
  const out = [...named];
  for (let i = 0; i < numbers.length; ) {
    const first = numbers[i];
    let last = first;
    while (i + 1 < numbers.length && numbers[i + 1] <= last + 1) last = numbers[++i];
    i++;
    out.push(first === last ? first : `${first}:${last}`);
  }
  return out;
}

/**
 * Ports grouped by protocol, protocols sorted, as Calico does: one rule per protocol. A port
 * entry with a protocol but no port means every port of that protocol (undefined list).
 */
function groupPorts(ports: Port[]): { protocol: string; ports: CalicoPort[] | undefined }[] {
  const groups = new Map<string, CalicoPort[] | undefined>();
  for (const p of ports) {
    if (p.port === undefined) {
      groups.set(p.protocol, undefined);
      continue;
    }
    if (groups.has(p.protocol) && groups.get(p.protocol) === undefined) continue;
    const port = p.endPort !== undefined ? `${p.port}:${p.endPort}` : p.port;
    groups.set(p.protocol, [...(groups.get(p.protocol) ?? []), port]);
  }
  return [...groups.keys()].sort().map((protocol) => {
    const list = groups.get(protocol);
    return { protocol, ports: list && simplifyPorts(list) };
  });
}

/** One K8s rule → Calico Allow rules: every protocol group × every peer. */
function convertRule(peers: Peer[] | undefined, ports: Port[] | undefined, peerSide: 'source' | 'destination'): Entity[] {
  const entities = peers?.length ? peers.map(peerToEntity) : [undefined];
  const groups = ports?.length ? groupPorts(ports) : [undefined];
  const rules: Entity[] = [];
  for (const g of groups) {
    for (const ent of entities) {
      const rule: Entity = { action: 'Allow' };
      if (g) rule.protocol = g.protocol;
      const dest: Entity = peerSide === 'destination' && ent ? { ...ent } : {};
      if (g?.ports?.length) dest.ports = g.ports;
      if (peerSide === 'source' && ent) rule.source = ent;
      if (Object.keys(dest).length) rule.destination = dest;
      rules.push(rule);
    }
  }
  return rules;
}

/** Kubernetes' defaulting of policyTypes: always Ingress, plus Egress when there are egress rules. */
function policyTypes(np: K8sNetworkPolicy): string[] {
  if (np.spec.policyTypes?.length) return np.spec.policyTypes;
  return np.spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function k8sNetworkPolicyToCalico(np: K8sNetworkPolicy): Record<string, unknown> {
  const types = policyTypes(np);
  const spec: Entity = { order: KNP_ORDER, selector: podSelectorToCalico(np.spec.podSelector), types };
  // Rules for a direction not in policyTypes are ignored, as Kubernetes does.
  if (types.includes('Ingress')) spec.ingress = (np.spec.ingress ?? []).flatMap((r) => convertRule(r.from, r.ports, 'source'));
  if (types.includes('Egress')) spec.egress = (np.spec.egress ?? []).flatMap((r) => convertRule(r.to, r.ports, 'destination'));
  return {
    apiVersion: API_VERSION,
    kind: 'NetworkPolicy',
    metadata: { name: `${KNP_PREFIX}${np.metadata.name}`, namespace: np.metadata.namespace ?? 'default' },
    spec,
  };
}

/** Namespace → Profile "kns.<name>": allow-all rules, labels applied with the "pcns." prefix. */
export function namespaceToProfile(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  const labelsToApply: Record<string, string> = { [`${NS_LABEL_PREFIX}projectcalico.org/name`]: name };
  // The API server labels every namespace with its name; do the same for pasted manifests.
  const all = { 'kubernetes.io/metadata.name': name, ...labels };
  for (const [k, v] of Object.entries(all)) labelsToApply[`${NS_LABEL_PREFIX}${k}`] = v;
  return {
    apiVersion: API_VERSION,
    kind: 'Profile',
    metadata: { name: `${KNS_PREFIX}${name}` },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply },
  };
}

/**
 * ServiceAccount → Profile "ksa.<namespace>.<name>" as Calico's converter makes it: no rules, the
 * account's name and labels applied with the "pcsa." prefix, which rule serviceAccounts.selector
 * and policy serviceAccountSelector match against.
 */
export function serviceAccountToProfile(namespace: string, name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  const labelsToApply: Record<string, string> = { [`${SA_LABEL_PREFIX}projectcalico.org/name`]: name };
  for (const [k, v] of Object.entries(labels)) labelsToApply[`${SA_LABEL_PREFIX}${k}`] = v;
  return { apiVersion: API_VERSION, kind: 'Profile', metadata: { name: `${KSA_PREFIX}${namespace}.${name}` }, spec: { labelsToApply } };
}

const k8sServiceAccount = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('ServiceAccount'),
    metadata: k8sMeta,
    secrets: z.unknown().optional(),
    imagePullSecrets: z.unknown().optional(),
    automountServiceAccountToken: z.boolean().optional(),
  })
  .strict();

const K8S_META_KEYS = ['name', 'namespace', 'labels', 'annotations'];

/** The seed's simple policies (allow-all, default-deny) pasted flat become nested again. */
function renest(doc: Record<string, unknown>): Record<string, unknown> {
  if (!isFlat(doc) || isRecord(doc.metadata)) return doc;
  const { metadata, spec } = unflatten(doc, K8S_META_KEYS);
  return { apiVersion: doc.apiVersion, kind: doc.kind, metadata, ...(Object.keys(spec).length ? { spec } : {}) };
}

/** Converts Kubernetes NetworkPolicy / Namespace documents; undefined for anything else. */
export function convertK8s(input: Record<string, unknown>): Conversion | undefined {
  const owned = (input.apiVersion === 'networking.k8s.io/v1' && input.kind === 'NetworkPolicy') || (input.apiVersion === 'v1' && (input.kind === 'Namespace' || input.kind === 'ServiceAccount'));
  if (!owned) return undefined;
  const doc = renest(input);
  if (doc.kind === 'ServiceAccount') {
    const r = k8sServiceAccount.safeParse(doc);
    if (!r.success) return { ok: false, errors: zodToFieldErrors(r.error, '') };
    const ns = r.data.metadata.namespace ?? 'default';
    return { ok: true, value: serviceAccountToProfile(ns, r.data.metadata.name, r.data.metadata.labels) };
  }
  if (doc.kind === 'NetworkPolicy') {
    const r = k8sNetworkPolicy.safeParse(doc);
    return r.success ? { ok: true, value: k8sNetworkPolicyToCalico(r.data) } : { ok: false, errors: zodToFieldErrors(r.error, '') };
  }
  const r = k8sNamespace.safeParse(doc);
  if (!r.success) return { ok: false, errors: zodToFieldErrors(r.error, '') };
  if (!isDns1123Label(r.data.metadata.name)) return { ok: false, errors: [{ path: 'metadata.name', message: 'a namespace name is a DNS-1123 label' }] };
  return { ok: true, value: namespaceToProfile(r.data.metadata.name, r.data.metadata.labels) };
}
