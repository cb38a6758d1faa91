// Calico Node ↔ Kubernetes Node, as Calico's KDD does: the Calico fields live in annotations on
// the Kubernetes Node; the labels are the Node's own (plus Calico-only labels kept in the
// projectcalico.org/labels annotation); orchRefs and addresses are derived. Pure.
import { parseASNumber } from '../../model/fields.js';
import { nodeSpecSchema } from '../../model/node.js';
import { API_VERSION } from '../../model/resource.js';
import type { StoredObject, StoredValue } from '../../store.js';
import type { KubeObject } from './driver.js';

export const NODE_ANNOTATIONS = {
  ipv4Address: 'projectcalico.org/IPv4Address',
  ipv6Address: 'projectcalico.org/IPv6Address',
  asNumber: 'projectcalico.org/ASNumber',
  ipv4IPIPTunnelAddr: 'projectcalico.org/IPv4IPIPTunnelAddr',
  routeReflectorClusterID: 'projectcalico.org/RouteReflectorClusterID',
  ipv4VXLANTunnelAddr: 'projectcalico.org/IPv4VXLANTunnelAddr',
  vxlanTunnelMACAddr: 'projectcalico.org/VXLANTunnelMACAddr',
  ipv6VXLANTunnelAddr: 'projectcalico.org/IPv6VXLANTunnelAddr',
  vxlanTunnelMACAddrV6: 'projectcalico.org/VXLANTunnelMACAddrV6',
  wireguardIPv4: 'projectcalico.org/IPv4WireguardInterfaceAddr',
  wireguardIPv6: 'projectcalico.org/IPv6WireguardInterfaceAddr',
} as const;
export const LABELS_ANNOTATION = 'projectcalico.org/labels';
export const ANNOTATIONS_ANNOTATION = 'projectcalico.org/annotations';

const BGP_FIELDS = ['ipv4Address', 'ipv6Address', 'asNumber', 'ipv4IPIPTunnelAddr', 'routeReflectorClusterID'] as const;
const TOP_FIELDS = ['ipv4VXLANTunnelAddr', 'vxlanTunnelMACAddr', 'ipv6VXLANTunnelAddr', 'vxlanTunnelMACAddrV6'] as const;

type Dict = Record<string, unknown>;

// An annotation that does not hold what its field needs is left out, as Calico's validators do.
const bgpShape = nodeSpecSchema.shape.bgp.unwrap().shape;
const topShape = nodeSpecSchema.shape;
const valid = (schema: { safeParse(v: unknown): { success: boolean } }, v: string): boolean => schema.safeParse(v).success;

function jsonMap(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export function k8sNodeToCalico(node: KubeObject): StoredObject {
  const ann = node.metadata.annotations ?? {};
  const name = node.metadata.name;
  const bgp: Dict = {};
  for (const f of BGP_FIELDS) {
    const v = ann[NODE_ANNOTATIONS[f]];
    if (v === undefined || v === '') continue;
    // An AS number that does not parse is left out, as Calico does.
    if (f === 'asNumber') {
      const asn = parseASNumber(v);
      if (asn !== undefined) bgp.asNumber = asn;
    } else if (valid(bgpShape[f], v)) bgp[f] = v;
  }
  const spec: Dict = {};
  if (Object.keys(bgp).length) spec.bgp = bgp;
  for (const f of TOP_FIELDS) {
    const v = ann[NODE_ANNOTATIONS[f]];
    if (v && valid(topShape[f], v)) spec[f] = v;
  }
  const wg: Dict = {};
  if (ann[NODE_ANNOTATIONS.wireguardIPv4]) wg.interfaceIPv4Address = ann[NODE_ANNOTATIONS.wireguardIPv4];
  if (ann[NODE_ANNOTATIONS.wireguardIPv6]) wg.interfaceIPv6Address = ann[NODE_ANNOTATIONS.wireguardIPv6];
  if (Object.keys(wg).length) spec.wireguard = wg;
  spec.orchRefs = [{ nodeName: name, orchestrator: 'k8s' }];
  const addresses: { address: string; type: string }[] = [];
  for (const a of [bgp.ipv4Address, bgp.ipv6Address]) if (typeof a === 'string') addresses.push({ address: a, type: 'CalicoNodeIP' });
  const status = (node.status ?? {}) as { addresses?: { type?: string; address?: string }[] };
  for (const a of status.addresses ?? []) {
    if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address) addresses.push({ address: a.address, type: a.type });
  }
  if (addresses.length) spec.addresses = addresses;
  const labels = { ...(node.metadata.labels ?? {}), ...jsonMap(ann[LABELS_ANNOTATION]) };
  const annotations = jsonMap(ann[ANNOTATIONS_ANNOTATION]);
  const value: StoredValue = {
    apiVersion: API_VERSION,
    kind: 'Node',
    metadata: {
      name,
      ...(node.metadata.uid ? { uid: node.metadata.uid } : {}),
      ...(node.metadata.creationTimestamp ? { creationTimestamp: node.metadata.creationTimestamp } : {}),
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec,
  };
  return { key: { kind: 'Node', name }, value, revision: node.metadata.resourceVersion ?? '' };
}

function setOrDelete(ann: Record<string, string>, key: string, v: unknown): void {
  if (v === undefined || v === null || v === '') delete ann[key];
  else ann[key] = String(v);
}

/**
 * The Kubernetes Node with the Calico Node's fields merged into its annotations; its spec, status
 * and its own labels untouched. Labels the Calico Node has beyond the Node's go to an annotation.
 */
export function mergeCalicoIntoK8sNode(value: StoredValue, node: KubeObject, resourceVersion: string): KubeObject {
  const spec = (value.spec ?? {}) as Dict;
  const bgp = (spec.bgp ?? {}) as Dict;
  const wg = (spec.wireguard ?? {}) as Dict;
  const ann: Record<string, string> = { ...(node.metadata.annotations ?? {}) };
  for (const f of BGP_FIELDS) setOrDelete(ann, NODE_ANNOTATIONS[f], bgp[f]);
  for (const f of TOP_FIELDS) setOrDelete(ann, NODE_ANNOTATIONS[f], spec[f]);
  setOrDelete(ann, NODE_ANNOTATIONS.wireguardIPv4, wg.interfaceIPv4Address);
  setOrDelete(ann, NODE_ANNOTATIONS.wireguardIPv6, wg.interfaceIPv6Address);
  const k8sLabels = node.metadata.labels ?? {};
  const calicoOnly = Object.fromEntries(Object.entries(value.metadata.labels ?? {}).filter(([k, v]) => k8sLabels[k] !== v));
  setOrDelete(ann, LABELS_ANNOTATION, Object.keys(calicoOnly).length ? JSON.stringify(calicoOnly) : undefined);
  const calicoAnn = value.metadata.annotations ?? {};
  setOrDelete(ann, ANNOTATIONS_ANNOTATION, Object.keys(calicoAnn).length ? JSON.stringify(calicoAnn) : undefined);
  return { ...node, apiVersion: 'v1', kind: 'Node', metadata: { ...node.metadata, annotations: ann, resourceVersion } };
}
