// Inputs and output of the Calico BGP config generator. The input shapes are structural subsets of
// the v3 resource model (datastore/model: NodeSpec, BGPPeerSpec, BGPConfigurationSpec, IPPoolSpec), so
// validated resources pass straight in, and tests can write them by hand.
import type { BgpFilterSpec } from '../policy/filter.js';
import type { PeerConfig } from '../speaker/types.js';
import type { Prefix } from '../types.js';

export interface Meta {
  name: string;
  labels?: Record<string, string>;
}

export interface NodeInput {
  metadata: Meta;
  spec: {
    bgp?: {
      asNumber?: number;
      /** CIDR form, "10.0.0.5/24": we take the address. */
      ipv4Address?: string;
      ipv6Address?: string;
      routeReflectorClusterID?: string;
    };
  };
}

/** A key of a Kubernetes Secret in calico-node's namespace (Calico's `secretKeyRef`). */
export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface BGPPeerInput {
  metadata: Meta;
  spec: {
    node?: string;
    nodeSelector?: string;
    peerSelector?: string;
    /** "ip", "ip:port" or "[v6]:port". */
    peerIP?: string;
    asNumber?: number;
    keepOriginalNextHop?: boolean;
    nextHopMode?: 'Auto' | 'Self' | 'Keep';
    sourceAddress?: 'UseNodeIP' | 'None';
    password?: { secretKeyRef: SecretKeyRef };
    /** GTSM hop count; 0 or absent: off. */
    ttlSecurity?: number;
    /** BGPFilter names, applied in this order. */
    filters?: string[];
    numAllowedLocalASNumbers?: number;
    /** Go duration ("2m"). */
    maxRestartTime?: string;
    /** Manual: the nodes this BGPPeer names do not peer back (they need a BGPPeer of their own). */
    reversePeering?: 'Auto' | 'Manual';
  };
}

export interface BGPConfigurationInput {
  metadata: Meta;
  spec: {
    nodeToNodeMeshEnabled?: boolean;
    asNumber?: number;
    listenPort?: number;
    communities?: Array<{ name: string; value: string }>;
    prefixAdvertisements?: Array<{ cidr: string; communities?: string[] }>;
    nodeMeshPassword?: { secretKeyRef: SecretKeyRef };
    /** Go duration: the restart time advertised to mesh peers. */
    nodeMeshMaxRestartTime?: string;
  };
}

export interface BGPFilterInput {
  metadata: Meta;
  spec: BgpFilterSpec;
}

export interface IPPoolInput {
  metadata: Meta;
  spec: { cidr: string; disabled?: boolean; disableBGPExport?: boolean };
}

export interface BgpConfigInput {
  nodeName: string;
  nodes: readonly NodeInput[];
  peers: readonly BGPPeerInput[];
  bgpConfigs: readonly BGPConfigurationInput[];
  pools: readonly IPPoolInput[];
  /** BGPFilters (absent: none defined). */
  filters?: readonly BGPFilterInput[];
  /** This node's confirmed block CIDRs. */
  affinities: readonly string[];
  /** Addresses this node's workloads hold inside blocks affine to other nodes. */
  borrowedIps: readonly string[];
}

/** One peering as the speaker will run it, plus the family it belongs to (for display). */
export interface ComputedPeer extends PeerConfig {
  name: string;
  family: 4 | 6;
  passive: boolean;
  rrClient: boolean;
  /** The BGPPeer resource this came from (absent for mesh peers). */
  source?: string;
  /** Where the TCP-MD5 password is; the shell reads it into `password` (bgp/config/secrets.ts). */
  passwordRef?: SecretKeyRef;
}

export interface ExportRoute {
  prefix: Prefix;
  /** RFC 1997 communities (asn << 16 | value) from prefixAdvertisements. */
  communities: number[];
  largeCommunities: Array<[number, number, number]>;
}

export interface BgpConfig {
  nodeName: string;
  routerId: string;
  asNumber: number;
  listenPort: number;
  meshEnabled: boolean;
  /** Set when this node is a route reflector. */
  clusterId?: string;
  ipv4Address?: string;
  ipv6Address?: string;
  peers: ComputedPeer[];
  exports: ExportRoute[];
  /** Why expected peerings or exports are absent: answers "why is my node not peering?". */
  notes: string[];
}
