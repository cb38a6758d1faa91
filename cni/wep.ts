// WorkloadEndpoint naming and record, as Calico writes them.
import { createHash } from 'node:crypto';

/** Calico escapes "-" as "--" inside each part so the parts can be joined with single dashes. */
const esc = (s: string): string => s.replace(/-/g, '--');

export function wepName(node: string, pod: string, iface: string): string {
  return `${esc(node)}-k8s-${esc(pod)}-${esc(iface)}`;
}

/** Host-side interface: "cali" + 11 hex of sha1("<namespace>.<pod>"), or of the container ID. */
export function hostVethName(namespace: string | undefined, pod: string | undefined, containerId: string): string {
  const seed = pod ? `${namespace ?? 'default'}.${pod}` : containerId;
  return `cali${createHash('sha1').update(seed).digest('hex').slice(0, 11)}`;
}

export interface WepInput {
  node: string;
  namespace: string;
  pod: string;
  containerId: string;
  endpoint: string;
  interfaceName: string;
  ipNetworks: string[];
  mac: string;
  labels: Record<string, string>;
}

export function wepResource(w: WepInput): Record<string, unknown> {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: wepName(w.node, w.pod, w.endpoint),
      namespace: w.namespace,
      labels: {
        ...w.labels,
        'projectcalico.org/namespace': w.namespace,
        'projectcalico.org/orchestrator': 'k8s',
      },
    },
    spec: {
      orchestrator: 'k8s',
      node: w.node,
      containerID: w.containerId,
      pod: w.pod,
      endpoint: w.endpoint,
      interfaceName: w.interfaceName,
      ipNetworks: w.ipNetworks,
      profiles: [`kns.${w.namespace}`],
      mac: w.mac,
    },
  };
}
