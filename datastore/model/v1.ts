// Reads calicoctl's old `apiVersion: v1` documents and writes them as projectcalico.org/v3, the
// way calicoctl's converter did: ipPool → IPPool named by its CIDR, bgpPeer → BGPPeer named by
// its IP (node-scoped: "<node>.<ip>"), policy → GlobalNetworkPolicy, profile, hostEndpoint,
// workloadEndpoint, node. The output is not validated here; validateResource does that next.
import type { Conversion } from './convert.js';
import { isRecord, unflatten, type Doc } from './flat.js';
import type { FieldError } from './resource.js';
import { parseCIDR, parseIP } from './net.js';
import { API_VERSION } from './resource.js';


/** "10.200.0.0/16" → "10-200-0-0-16", "fd00::/48" → "fd00---48", as calicoctl named them. */
export function v1NameFromIP(ipOrCidr: string): string {
  return ipOrCidr.toLowerCase().replace(/[.:/]/g, '-');
}

/** Node names made valid for v3: lower case, anything outside [a-z0-9.-] becomes "-". */
export function v1NodeName(node: string): string {
  return node.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
}

/** Metadata keys each v1 kind had; used to rebuild the flat (unindented) tutorial form. */
const META_KEYS: Record<string, string[]> = {
  ipPool: ['cidr'],
  bgpPeer: ['peerIP', 'scope', 'node'],
  policy: ['name', 'annotations'],
  profile: ['name', 'labels', 'tags'],
  hostEndpoint: ['name', 'node', 'labels'],
  workloadEndpoint: ['name', 'workload', 'orchestrator', 'node', 'activeInstanceID', 'labels'],
  node: ['name'],
};

const KIND_BY_LOWER = new Map(Object.keys(META_KEYS).map((k) => [k.toLowerCase(), k]));

/** The v1 kind of a document, or undefined. Capitalised "Node" is Kubernetes', not Calico's. */
export function v1Kind(doc: Doc): string | undefined {
  if (doc.apiVersion !== 'v1' || typeof doc.kind !== 'string' || doc.kind === 'Node') return undefined;
  return KIND_BY_LOWER.get(doc.kind.toLowerCase());
}

/** The flat form, plus the ipPool case: "ipip:" (null) followed by top-level enabled/mode. */
function unflattenV1(kind: string, doc: Doc): { metadata: Doc; spec: Doc } {
  const { metadata, spec } = unflatten(doc, META_KEYS[kind]);
  if (kind === 'ipPool' && !isRecord(spec.ipip) && ('enabled' in spec || 'mode' in spec)) {
    spec.ipip = { enabled: spec.enabled, mode: spec.mode };
    delete spec.enabled;
    delete spec.mode;
  }
  return { metadata, spec };
}

class V1Errors {
  readonly list: FieldError[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  /** A required string field; placeholders like {HOST-IP} parse as mappings, so say so. */
  str(v: unknown, path: string): string | undefined {
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number') return String(v);
    const hint = isRecord(v) ? ' (is it a template placeholder like {HOST-IP} left unfilled?)' : '';
    this.add(path, `${v === undefined || v === null ? 'required field is missing' : 'expected a string'}${hint}`);
    return undefined;
  }
}

function v3(kind: string, metadata: Doc, spec: Doc): Doc {
  return { apiVersion: API_VERSION, kind, metadata, spec };
}

function stripUndefined(d: Doc): Doc {
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined));
}

function convertIPPool(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const cidr = e.str(meta.cidr, 'metadata.cidr');
  let ipipMode = 'Never';
  if (spec.ipip !== undefined && spec.ipip !== null) {
    if (!isRecord(spec.ipip)) e.add('spec.ipip', 'expected a mapping with enabled and mode');
    else {
      const { enabled, mode, ...rest } = spec.ipip;
      for (const k of Object.keys(rest)) e.add(`spec.ipip.${k}`, `unknown field ${JSON.stringify(k)}`);
      if (enabled === true) {
        // v1 spelled modes "always" / "cross-subnet"; accept v3 spellings too.
        const m = typeof mode === 'string' ? mode.toLowerCase().replace('-', '') : mode;
        if (m === undefined || m === null || m === '' || m === 'always') ipipMode = 'Always';
        else if (m === 'crosssubnet') ipipMode = 'CrossSubnet';
        else e.add('spec.ipip.mode', `expected "always" or "cross-subnet", got ${JSON.stringify(mode)}`);
      } else if (enabled !== false && enabled !== undefined && enabled !== null) {
        e.add('spec.ipip.enabled', 'expected true or false');
      }
    }
  }
  const { ipip: _ipip, 'nat-outgoing': nat, disabled, ...rest } = spec;
  for (const k of Object.keys(rest)) e.add(`spec.${k}`, `unknown field ${JSON.stringify(k)} in a v1 ipPool`);
  if (!cidr) return undefined;
  // v1 stored the pool as a masked network, so host bits were dropped; the name comes from that.
  const net = parseCIDR(cidr)?.network ?? cidr;
  return v3('IPPool', { name: v1NameFromIP(net) }, stripUndefined({ cidr: net, ipipMode, natOutgoing: nat ?? false, disabled: disabled ?? false }));
}

function convertBGPPeer(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const peerIP = e.str(meta.peerIP, 'metadata.peerIP');
  const scope = meta.scope ?? 'global';
  let node: string | undefined;
  if (scope === 'node') node = e.str(meta.node, 'metadata.node');
  else if (scope !== 'global') e.add('metadata.scope', `expected "global" or "node", got ${JSON.stringify(scope)}`);
  else if (meta.node !== undefined && meta.node !== null) e.add('metadata.node', 'node is only allowed with scope: node');
  const { asNumber, ...rest } = spec;
  for (const k of Object.keys(rest)) e.add(`spec.${k}`, `unknown field ${JSON.stringify(k)} in a v1 bgpPeer`);
  if (!peerIP || (scope === 'node' && !node)) return undefined;
  const ipName = v1NameFromIP(parseIP(peerIP)?.text ?? peerIP);
  const name = node ? `${v1NodeName(node)}.${ipName}` : ipName;
  return v3('BGPPeer', { name }, stripUndefined({ node: node && v1NodeName(node), peerIP, asNumber }));
}

const ACTIONS: Record<string, string> = { allow: 'Allow', deny: 'Deny', log: 'Log', pass: 'Pass', 'next-tier': 'Pass' };
const TYPES: Record<string, string> = { ingress: 'Ingress', egress: 'Egress' };

function convertEntity(v: unknown, path: string, e: V1Errors): Doc | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    e.add(path, 'expected a mapping');
    return undefined;
  }
  const { tag, net, nets, notTag, notNet, notNets, selector, notSelector, ...rest } = v;
  const sel = [tag !== undefined ? `has(${String(tag)})` : undefined, typeof selector === 'string' && selector ? `(${selector})` : undefined].filter(Boolean);
  const notSel = [notTag !== undefined ? `has(${String(notTag)})` : undefined, typeof notSelector === 'string' && notSelector ? `(${notSelector})` : undefined].filter(Boolean);
  const list = (one: unknown, many: unknown): unknown => (one !== undefined ? [one, ...(Array.isArray(many) ? many : [])] : many);
  return stripUndefined({
    ...rest, // ports, notPorts pass through unchanged; v3 validation judges them
    nets: list(net, nets),
    notNets: list(notNet, notNets),
    selector: sel.length ? sel.join(' || ') : undefined,
    notSelector: notSel.length ? notSel.join(' || ') : undefined,
  });
}

function convertRules(v: unknown, path: string, e: V1Errors): Doc[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    e.add(path, 'expected a list of rules');
    return undefined;
  }
  return v.map((r: unknown, i) => {
    const p = `${path}[${i}]`;
    if (!isRecord(r)) {
      e.add(p, 'expected a mapping');
      return {};
    }
    const { action, source, destination, ...rest } = r;
    const a = typeof action === 'string' ? ACTIONS[action.toLowerCase()] : undefined;
    if (!a) e.add(`${p}.action`, `expected allow, deny, log, pass or next-tier, got ${JSON.stringify(action ?? null)}`);
    return stripUndefined({ action: a, ...rest, source: convertEntity(source, `${p}.source`, e), destination: convertEntity(destination, `${p}.destination`, e) });
  });
}

function convertPolicy(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const name = e.str(meta.name, 'metadata.name');
  const { ingress, egress, types, ...rest } = spec;
  let t: unknown = types;
  if (Array.isArray(types)) t = types.map((x) => (typeof x === 'string' ? (TYPES[x.toLowerCase()] ?? x) : x));
  const out = stripUndefined({ ...rest, types: t, ingress: convertRules(ingress, 'spec.ingress', e), egress: convertRules(egress, 'spec.egress', e) });
  return name ? v3('GlobalNetworkPolicy', stripUndefined({ name: v1NodeName(name), annotations: meta.annotations }), out) : undefined;
}

function convertProfile(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const name = e.str(meta.name, 'metadata.name');
  const labels: Doc = isRecord(meta.labels) ? { ...meta.labels } : {};
  if (Array.isArray(meta.tags)) for (const t of meta.tags) labels[String(t)] = '';
  const { ingress, egress, ...rest } = spec;
  for (const k of Object.keys(rest)) e.add(`spec.${k}`, `unknown field ${JSON.stringify(k)} in a v1 profile`);
  const out = stripUndefined({
    ingress: convertRules(ingress, 'spec.ingress', e),
    egress: convertRules(egress, 'spec.egress', e),
    labelsToApply: Object.keys(labels).length ? labels : undefined,
  });
  return name ? v3('Profile', { name }, out) : undefined;
}

function convertHostEndpoint(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const name = e.str(meta.name, 'metadata.name');
  const node = e.str(meta.node, 'metadata.node');
  if (!name || !node) return undefined;
  return v3('HostEndpoint', stripUndefined({ name: `${v1NodeName(node)}.${v1NodeName(name)}`, labels: meta.labels }), { ...spec, node: v1NodeName(node) });
}

/** Calico's workload endpoint name: parts with "-" doubled, joined by "-". */
function wepName(parts: string[]): string {
  return parts.map((p) => p.replace(/-/g, '--')).join('-');
}

function convertWorkloadEndpoint(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const endpoint = e.str(meta.name, 'metadata.name');
  const workload = e.str(meta.workload, 'metadata.workload');
  const orchestrator = e.str(meta.orchestrator, 'metadata.orchestrator');
  const node = e.str(meta.node, 'metadata.node');
  if (!endpoint || !workload || !orchestrator || !node) return undefined;
  let namespace = 'default';
  let pod: string | undefined;
  let w = workload;
  if (orchestrator === 'k8s') {
    const dot = workload.indexOf('.');
    if (dot < 0) {
      e.add('metadata.workload', 'a k8s workload is "<namespace>.<pod>"');
      return undefined;
    }
    namespace = workload.slice(0, dot);
    pod = workload.slice(dot + 1);
    w = pod;
  }
  const n = v1NodeName(node);
  const metadata = stripUndefined({ name: wepName([n, orchestrator, w, endpoint]), namespace, labels: meta.labels });
  const out = stripUndefined({ orchestrator, node: n, workload: pod ? undefined : workload, pod, endpoint, ...spec });
  return v3('WorkloadEndpoint', metadata, out);
}

function convertNode(meta: Doc, spec: Doc, e: V1Errors): Doc | undefined {
  const name = e.str(meta.name, 'metadata.name');
  return name ? v3('Node', { name: v1NodeName(name) }, spec) : undefined;
}

const CONVERTERS: Record<string, (meta: Doc, spec: Doc, e: V1Errors) => Doc | undefined> = {
  ipPool: convertIPPool,
  bgpPeer: convertBGPPeer,
  policy: convertPolicy,
  profile: convertProfile,
  hostEndpoint: convertHostEndpoint,
  workloadEndpoint: convertWorkloadEndpoint,
  node: convertNode,
};

/** Converts a Calico v1 document, or returns undefined when the document is not one. */
export function convertV1(doc: Doc): Conversion | undefined {
  const kind = v1Kind(doc);
  if (!kind) return undefined;
  const { metadata, spec } = unflattenV1(kind, doc);
  const e = new V1Errors();
  const value = CONVERTERS[kind](metadata, spec, e);
  if (e.list.length || !value) return { ok: false, errors: e.list.length ? e.list : [{ path: '', message: `cannot convert v1 ${kind}` }] };
  return { ok: true, value };
}
