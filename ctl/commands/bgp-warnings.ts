// Calico BGP fields that Tortie stores (so manifests written for Calico apply unchanged) but does
// not act on yet: said at apply time, one line per resource and field. The README lists the same.
import type { Resource } from '../../datastore/model/resource.js';

/** Field → why it has no effect (absent from a spec: nothing to say). */
const BGP_PEER_UNUSED: Record<string, string> = {
  localASNumber: 'the node AS is always used',
  failureDetectionMode: 'BFD is not implemented',
  restartMode: 'graceful restart follows the speaker setting; long-lived GR is not implemented',
  keepaliveTime: 'keepalives follow the negotiated hold time',
  birdGatewayMode: 'there is no BIRD; next hops are installed as received',
  reachableBy: 'no static route to the peer is added',
  localWorkloadSelector: 'peering with local workloads is not implemented',
};

const BGP_CONFIG_UNUSED: Record<string, string> = {
  bindMode: 'the speaker listens on all addresses',
  ignoredInterfaces: 'no interface routes are exported',
  localWorkloadPeeringIPV4: 'peering with local workloads is not implemented',
  localWorkloadPeeringIPV6: 'peering with local workloads is not implemented',
};

const SERVICE_FIELDS = ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'];

export function bgpFieldWarnings(resources: readonly Resource[]): string[] {
  const out: string[] = [];
  for (const r of resources) {
    const table = r.kind === 'BGPPeer' ? BGP_PEER_UNUSED : r.kind === 'BGPConfiguration' ? BGP_CONFIG_UNUSED : undefined;
    if (!table) continue;
    const spec = r.spec as Record<string, unknown>;
    for (const [field, why] of Object.entries(table)) {
      if (spec[field] !== undefined) out.push(`${r.kind} ${r.metadata.name}: spec.${field} is stored but not acted on (${why})`);
    }
    // As Calico: the service ranges come from the cluster-wide "default" configuration only.
    if (r.kind === 'BGPConfiguration' && r.metadata.name !== 'default') {
      for (const f of SERVICE_FIELDS) if (spec[f] !== undefined) out.push(`${r.kind} ${r.metadata.name}: spec.${f} is stored but not acted on (service IPs are read from the default BGPConfiguration only)`);
    }
    if (r.kind === 'BGPPeer' && spec.nextHopMode === 'Self') out.push(`BGPPeer ${r.metadata.name}: spec.nextHopMode Self is stored but not acted on (next hops follow the eBGP/iBGP defaults)`);
  }
  return out;
}
