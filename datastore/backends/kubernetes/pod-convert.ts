// WorkloadEndpoint ↔ Pod, as Calico's KDD derives it: one endpoint "eth0" per scheduled pod that
// is not host-networked; addresses from the CNI plugin's cni.projectcalico.org/podIPs (or podIP)
// annotations, else status.podIPs; profiles kns.<ns> and ksa.<ns>.<sa>. What Calico lets a client
// write back is the annotations the CNI plugin patches on pods/status. Pure.
import { parseCIDR } from '../../model/net.js';
import { API_VERSION } from '../../model/resource.js';
import { hostVethName, wepName } from '../../model/wep-names.js';
import type { StoredObject, StoredValue } from '../../store.js';
import type { KubeObject } from './driver.js';

export const POD_IP_ANNOTATION = 'cni.projectcalico.org/podIP';
export const POD_IPS_ANNOTATION = 'cni.projectcalico.org/podIPs';
export const CONTAINER_ID_ANNOTATION = 'cni.projectcalico.org/containerID';
const ENDPOINT = 'eth0';

interface PodSpec {
  nodeName?: string;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  podIPs?: { ip?: string }[];
}

const withPrefix = (ip: string): string => (ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`);

/** Host routes only: a garbled annotation value is dropped rather than passed on. */
const hostRoutes = (ips: string[]): string[] =>
  ips.map(withPrefix).filter((c) => {
    const p = parseCIDR(c);
    return p !== undefined && p.prefix === (p.family === 4 ? 32 : 128);
  });

/** The pod's addresses as CIDRs, in Calico's order of preference. */
export function podIPNetworks(pod: KubeObject): string[] {
  const status = (pod.status ?? {}) as PodStatus;
  // A finished pod's addresses may already belong to someone else.
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return [];
  const ann = pod.metadata.annotations ?? {};
  const fromAnn = (ann[POD_IPS_ANNOTATION] ?? ann[POD_IP_ANNOTATION] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (fromAnn.length) return hostRoutes(fromAnn);
  const fromStatus = (status.podIPs ?? []).map((p) => p.ip ?? '').filter(Boolean);
  if (fromStatus.length) return hostRoutes(fromStatus);
  return status.podIP ? hostRoutes([status.podIP]) : [];
}

/** Whether Calico makes an endpoint of this pod at all. */
export function isCalicoPod(pod: KubeObject): boolean {
  const spec = (pod.spec ?? {}) as PodSpec;
  return !!spec.nodeName && !spec.hostNetwork;
}

export function podToWorkloadEndpoint(pod: KubeObject): StoredObject | undefined {
  if (!isCalicoPod(pod)) return undefined;
  const spec = (pod.spec ?? {}) as PodSpec;
  const ns = pod.metadata.namespace ?? 'default';
  const podName = pod.metadata.name;
  const node = spec.nodeName ?? '';
  const sa = spec.serviceAccountName;
  const name = wepName(node, podName, ENDPOINT);
  const labels: Record<string, string> = {
    ...(pod.metadata.labels ?? {}),
    'projectcalico.org/namespace': ns,
    'projectcalico.org/orchestrator': 'k8s',
    ...(sa ? { 'projectcalico.org/serviceaccount': sa } : {}),
  };
  const ports = (spec.containers ?? [])
    .flatMap((c) => c.ports ?? [])
    .filter((p) => p.name && p.containerPort)
    .map((p) => ({ name: p.name as string, protocol: p.protocol ?? 'TCP', port: p.containerPort as number }));
  const containerID = pod.metadata.annotations?.[CONTAINER_ID_ANNOTATION];
  const wepSpec: Record<string, unknown> = {
    orchestrator: 'k8s',
    node,
    pod: podName,
    ...(containerID ? { containerID } : {}),
    endpoint: ENDPOINT,
    ...(sa ? { serviceAccountName: sa } : {}),
    ipNetworks: podIPNetworks(pod),
    profiles: [`kns.${ns}`, ...(sa ? [`ksa.${ns}.${sa}`] : [])],
    interfaceName: hostVethName(ns, podName, ''),
    ...(ports.length ? { ports } : {}),
  };
  const value: StoredValue = {
    apiVersion: API_VERSION,
    kind: 'WorkloadEndpoint',
    metadata: {
      name,
      namespace: ns,
      ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
      ...(pod.metadata.creationTimestamp ? { creationTimestamp: pod.metadata.creationTimestamp } : {}),
      labels,
    },
    spec: wepSpec,
  };
  return { key: { kind: 'WorkloadEndpoint', name, namespace: ns }, value, revision: pod.metadata.resourceVersion ?? '' };
}

/**
 * The merge patch for pods/status that records (or, with `undefined`, clears) an endpoint's
 * addresses and container ID, as Calico's CNI plugin does; with a resourceVersion it is a CAS.
 */
export function podAnnotationPatch(value: StoredValue | undefined, resourceVersion?: string): Record<string, unknown> {
  const spec = (value?.spec ?? {}) as { ipNetworks?: string[]; containerID?: string };
  const ips = spec.ipNetworks ?? [];
  const annotations: Record<string, string | null> = {
    [POD_IP_ANNOTATION]: ips[0] ?? null,
    [POD_IPS_ANNOTATION]: ips.length ? ips.join(',') : null,
    [CONTAINER_ID_ANNOTATION]: spec.containerID ?? null,
  };
  return { metadata: { annotations, ...(resourceVersion ? { resourceVersion } : {}) } };
}
