// WorkloadEndpoint naming and record, as Calico writes them.
import { wepName } from '../datastore/model/wep-names.js';

export { wepName, hostVethName } from '../datastore/model/wep-names.js';

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
