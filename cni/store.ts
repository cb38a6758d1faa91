// What the tortie plugins need from the cluster, as one interface with two implementations: the
// local tortie-node over its CNI socket (agent-client.ts, the fast path: no datastore client in the
// plugin process) and the datastore itself (direct-store.ts, loaded only when no agent answers).
// Every request and reply is plain JSON, so the agent serves the same calls over its socket.
import type { PodInfo } from './k8s.js';

/** One address assignment, decided by the plugin from its config, CNI_ARGS and pod annotations. */
export interface AssignRequest {
  /** Calico's handle: "<network name>.<container id>". */
  handle: string;
  node: string;
  attrs: Record<string, string>;
  /** Exactly these addresses (IP= in CNI_ARGS, the ipAddrs annotation); else num4/num6 from the pools. */
  requested?: string[];
  num4: number;
  num6: number;
  ipv4Pools?: string[];
  ipv6Pools?: string[];
}

export interface EndpointRef {
  namespace: string;
  name: string;
}

export interface GcRequest {
  node: string;
  /** The network's name: handles "<name>.<containerID>" belong to it. */
  network: string;
  /** Container IDs of the attachments the runtime still has (cni.dev/valid-attachments). */
  validContainerIds: string[];
}

export interface GcReport {
  releasedHandles: string[];
  removedEndpoints: string[];
}

export interface CniStore {
  /** Who answers, for error messages ("tortie-node at /var/run/tortie/cni.sock", "etcd at …"). */
  readonly description: string;
  pod(kubeconfig: string, namespace: string, name: string): Promise<PodInfo>;
  /** Addresses the handle already holds (a retried ADD returns them); bare IPs. */
  held(handle: string): Promise<string[]>;
  /** Assigns and returns bare IPs; all or nothing. */
  assign(req: AssignRequest): Promise<string[]>;
  /** Releases everything the handle holds; an unknown handle is success. */
  release(handle: string): Promise<void>;
  /** Creates the WorkloadEndpoint, or replaces an earlier sandbox's of the same pod. */
  putEndpoint(wep: Record<string, unknown>): Promise<void>;
  /** Deletes it if this container made it (or it names none); returns the ipNetworks it held. */
  removeEndpoint(ref: EndpointRef, containerId: string): Promise<string[]>;
  hasEndpoint(ref: EndpointRef): Promise<boolean>;
  gc(req: GcRequest): Promise<GcReport>;
  /** Resolves when ADDs can be served now; throws naming what is missing. */
  status(): Promise<void>;
  close(): Promise<void>;
}
