// WorkloadEndpoint names as Calico derives them from a pod: the CNI plugin writes them on etcd and
// the Kubernetes datastore derives them from Pods, so both sides agree.
import { createHash } from 'node:crypto';

/** Calico escapes "-" as "--" inside each part so the parts can be joined with single dashes. */
const esc = (s: string): string => s.replace(/-/g, '--');

export function wepName(node: string, pod: string, iface: string): string {
  return `${esc(node)}-k8s-${esc(pod)}-${esc(iface)}`;
}

/** The parts of a "<node>-k8s-<pod>-<iface>" name, or undefined when it is not one. */
export function parseWepName(name: string): { node: string; pod: string; iface: string } | undefined {
  const parts = name.split(/(?<!-)-(?!-)/).map((p) => p.replace(/--/g, '-'));
  if (parts.length !== 4 || parts[1] !== 'k8s' || parts.some((p) => p === '')) return undefined;
  return { node: parts[0], pod: parts[2], iface: parts[3] };
}

/** Host-side interface: "cali" + 11 hex of sha1("<namespace>.<pod>"), or of the container ID. */
export function hostVethName(namespace: string | undefined, pod: string | undefined, containerId: string): string {
  const seed = pod ? `${namespace ?? 'default'}.${pod}` : containerId;
  return `cali${createHash('sha1').update(seed).digest('hex').slice(0, 11)}`;
}
