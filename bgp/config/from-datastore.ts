// The generator's input read from raw datastore keys (what a syncer caches): v3 Nodes, BGPPeers,
// BGPConfigurations and IPPools, plus this node's confirmed block affinities and the addresses its
// workloads borrowed from other nodes' blocks. Pure; a malformed value is skipped and reported, so
// one bad resource never takes BGP down for everyone.
import { hostAffinityPrefix, IPAM_PREFIX, ipamBlockPrefix, keyPartToCidr, resourceListPrefix } from '../../datastore/keys.js';
import { ordinalToIp } from '../../ipam/block.js';
import { affinityHost, parseAffinity, parseBlock } from '../../ipam/model.js';
import type { BgpConfigInput, BGPConfigurationInput, BGPFilterInput, BGPPeerInput, IPPoolInput, NodeInput } from './types.js';

/** Every key prefix the generator reads (for a syncer). */
export const BGP_CONFIG_PREFIXES: readonly string[] = [
  resourceListPrefix('nodes'),
  resourceListPrefix('bgppeers'),
  resourceListPrefix('bgpconfigurations'),
  resourceListPrefix('ippools'),
  resourceListPrefix('bgpfilters'),
  hostAffinityPrefix(),
  ipamBlockPrefix(4),
  ipamBlockPrefix(6),
];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

export interface DatastoreInput {
  input: BgpConfigInput;
  /** Keys whose values could not be used, with why. */
  problems: string[];
}

/** Builds the generator input for `nodeName` from key → JSON text pairs. */
export function bgpInputFromKvs(nodeName: string, kvs: Iterable<readonly [string, string]>): DatastoreInput {
  const input: BgpConfigInput = { nodeName, nodes: [], peers: [], bgpConfigs: [], pools: [], affinities: [], borrowedIps: [] };
  const nodes: NodeInput[] = [];
  const peers: BGPPeerInput[] = [];
  const bgpConfigs: BGPConfigurationInput[] = [];
  const pools: IPPoolInput[] = [];
  const filters: BGPFilterInput[] = [];
  const affinities: string[] = [];
  const borrowed: string[] = [];
  const problems: string[] = [];
  const myAffinities = `${hostAffinityPrefix(nodeName)}`;
  for (const [key, text] of kvs) {
    try {
      if (key.startsWith(IPAM_PREFIX)) {
        if (key.startsWith(myAffinities)) {
          const m = /ipv[46]\/block\/([^/]+)$/.exec(key.slice(myAffinities.length));
          if (m && parseAffinity(key, text).state === 'confirmed') affinities.push(keyPartToCidr(m[1]));
        } else if (key.startsWith(ipamBlockPrefix(4)) || key.startsWith(ipamBlockPrefix(6))) {
          const b = parseBlock(key, text);
          if (affinityHost(b) === nodeName) continue;
          b.allocations.forEach((attrIdx, ordinal) => {
            if (attrIdx !== null && b.attributes[attrIdx]?.secondary?.node === nodeName) borrowed.push(ordinalToIp(b, ordinal));
          });
        }
        continue;
      }
      const doc: unknown = JSON.parse(text);
      if (!isObj(doc) || !isObj(doc.metadata) || typeof doc.metadata.name !== 'string') {
        problems.push(`${key}: not a resource (metadata.name missing)`);
        continue;
      }
      const res = { metadata: { name: doc.metadata.name, ...(isObj(doc.metadata.labels) ? { labels: doc.metadata.labels as Record<string, string> } : {}) }, spec: isObj(doc.spec) ? doc.spec : {} };
      if (key.startsWith(resourceListPrefix('nodes'))) nodes.push(res as NodeInput);
      else if (key.startsWith(resourceListPrefix('bgppeers'))) peers.push(res as BGPPeerInput);
      else if (key.startsWith(resourceListPrefix('bgpconfigurations'))) bgpConfigs.push(res as BGPConfigurationInput);
      else if (key.startsWith(resourceListPrefix('bgpfilters'))) filters.push(res as BGPFilterInput);
      else if (key.startsWith(resourceListPrefix('ippools'))) {
        if (typeof res.spec.cidr !== 'string') problems.push(`${key}: spec.cidr missing`);
        else pools.push(res as IPPoolInput);
      }
    } catch (e) {
      problems.push(`${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { input: { ...input, nodes, peers, bgpConfigs, pools, filters, affinities, borrowedIps: borrowed }, problems };
}
