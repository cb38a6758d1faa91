// Namespaces, ServiceAccounts and networking.k8s.io NetworkPolicies as the Calico objects the
// model derives from them (kns.<ns> / ksa.<ns>.<sa> Profiles, knp.default.<name> policies), with
// the Kubernetes object's identity and revision. The conversion itself is the model's (model/k8s.ts).
// Composite revisions "a/b" stand for two collections listed or watched together. Pure.
import { convertK8s, KNP_PREFIX, KNS_PREFIX, KSA_PREFIX } from '../../model/k8s.js';
import type { StoredObject, StoredValue } from '../../store.js';
import type { KubeObject } from './driver.js';

function stored(value: StoredValue, from: KubeObject, revision: string): StoredObject {
  const m = value.metadata;
  const metadata = { ...m, ...(from.metadata.uid ? { uid: from.metadata.uid } : {}), ...(from.metadata.creationTimestamp ? { creationTimestamp: from.metadata.creationTimestamp } : {}) };
  return { key: { kind: value.kind, name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}) }, value: { ...value, metadata }, revision };
}

/** Converts with the model, or returns the model's complaint (never throws). */
function convert(doc: KubeObject): { ok: true; value: StoredValue } | { ok: false; why: string } {
  const r = convertK8s(doc as Record<string, unknown>);
  if (!r) return { ok: false, why: 'not a convertible kind' };
  if (!r.ok) return { ok: false, why: r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  return { ok: true, value: r.value as unknown as StoredValue };
}

// Only what the model's converters read: the apiserver's extra metadata (managedFields…) and
// status are not part of the Calico object.
const slim = (o: KubeObject, apiVersion: string, kind: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), ...(o.metadata.labels ? { labels: o.metadata.labels } : {}) },
  ...(o.spec !== undefined ? { spec: o.spec } : {}),
});

/** Namespace → Profile kns.<ns>; its revision is "<nsRev>/" (Calico's composite form). */
export function namespaceToStored(ns: KubeObject): StoredObject | { error: string } {
  const r = convert(slim(ns, 'v1', 'Namespace'));
  return r.ok ? stored(r.value, ns, `${ns.metadata.resourceVersion ?? ''}/`) : { error: `Namespace ${ns.metadata.name}: ${r.why}` };
}

/** ServiceAccount → Profile ksa.<ns>.<sa>; its revision is "/<saRev>". */
export function serviceAccountToStored(sa: KubeObject): StoredObject | { error: string } {
  const doc = slim(sa, 'v1', 'ServiceAccount');
  delete doc.spec;
  const r = convert(doc);
  return r.ok ? stored(r.value, sa, `/${sa.metadata.resourceVersion ?? ''}`) : { error: `ServiceAccount ${sa.metadata.namespace}/${sa.metadata.name}: ${r.why}` };
}

/** networking.k8s.io/v1 NetworkPolicy → NetworkPolicy knp.default.<name>. */
export function k8sPolicyToStored(np: KubeObject): StoredObject | { error: string } {
  const r = convert(slim(np, 'networking.k8s.io/v1', 'NetworkPolicy'));
  return r.ok ? stored(r.value, np, np.metadata.resourceVersion ?? '') : { error: `NetworkPolicy ${np.metadata.namespace}/${np.metadata.name}: ${r.why}` };
}

/** "kns.<ns>" or "ksa.<ns>.<sa>" → which Kubernetes object, or undefined for any other name. */
export function parseProfileName(name: string): { namespace: string } | { namespace: string; serviceAccount: string } | undefined {
  if (name.startsWith(KNS_PREFIX) && name.length > KNS_PREFIX.length) return { namespace: name.slice(KNS_PREFIX.length) };
  if (name.startsWith(KSA_PREFIX)) {
    // Namespace names have no dots; the rest is the account's name.
    const rest = name.slice(KSA_PREFIX.length);
    const dot = rest.indexOf('.');
    if (dot > 0 && dot < rest.length - 1) return { namespace: rest.slice(0, dot), serviceAccount: rest.slice(dot + 1) };
  }
  return undefined;
}

export function isKnpName(name: string): boolean {
  return name.startsWith(KNP_PREFIX);
}

export function knpSourceName(name: string): string {
  return name.slice(KNP_PREFIX.length);
}

/** "a/b" → ["a", "b"]; "" → ["", ""] (both from now); undefined when it has another shape. */
export function splitRevision(rev: string, parts: number): string[] | undefined {
  if (rev === '') return Array<string>(parts).fill('');
  const out = rev.split('/');
  return out.length === parts ? out : undefined;
}
