// The generator's input read from stored objects (what a syncer caches): v3 Nodes, BGPPeers,
// BGPConfigurations and IPPools, plus this node's confirmed block affinities and the addresses its
// workloads borrowed from other nodes' blocks. Pure; a malformed value is skipped and reported, so
// one bad resource never takes BGP down for everyone.
import type { StoredObject } from '../../datastore/store.js';
import { ordinalToIp } from '../../ipam/block.js';
import { affinityHost, parseAffinity, parseBlock } from '../../ipam/model.js';
import type { BgpConfigInput, BGPConfigurationInput, BGPFilterInput, BGPPeerInput, IPPoolInput, NodeInput } from './types.js';

/** Every kind the generator reads (for a syncer). */
export const BGP_CONFIG_KINDS: readonly string[] = ['Node', 'BGPPeer', 'BGPConfiguration', 'BGPFilter', 'IPPool', 'BlockAffinity', 'IPAMBlock'];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

export interface DatastoreInput {
  input: BgpConfigInput;
  /** Objects whose values could not be used, with why. */
  problems: string[];
}

/** "Kind(namespace/name)", for problem messages. */
export function describeKey(o: StoredObject): string {
  return `${o.key.kind}(${o.key.namespace ? `${o.key.namespace}/` : ''}${o.key.name})`;
}

/** Builds the generator input for `nodeName` from stored objects. */
export function bgpInputFromObjects(nodeName: string, objects: Iterable<StoredObject>): DatastoreInput {
  const nodes: NodeInput[] = [];
  const peers: BGPPeerInput[] = [];
  const bgpConfigs: BGPConfigurationInput[] = [];
  const pools: IPPoolInput[] = [];
  const filters: BGPFilterInput[] = [];
  const affinities: string[] = [];
  const borrowed: string[] = [];
  const problems: string[] = [];
  for (const o of objects) {
    const what = describeKey(o);
    const spec = o.value.spec;
    try {
      if (o.key.kind === 'BlockAffinity') {
        const s = isObj(spec) ? spec : {};
        if (s.node === nodeName && typeof s.cidr === 'string' && parseAffinity(what, spec).state === 'confirmed') affinities.push(s.cidr);
        continue;
      }
      if (o.key.kind === 'IPAMBlock') {
        const b = parseBlock(what, spec);
        if (affinityHost(b) === nodeName) continue;
        b.allocations.forEach((attrIdx, ordinal) => {
          if (attrIdx !== null && b.attributes[attrIdx]?.secondary?.node === nodeName) borrowed.push(ordinalToIp(b, ordinal));
        });
        continue;
      }
      if (!isObj(spec) && spec !== undefined) {
        problems.push(`${what}: not a resource (spec is not an object)`);
        continue;
      }
      const labels = o.value.metadata.labels;
      const res = { metadata: { name: o.key.name, ...(isObj(labels) ? { labels } : {}) }, spec: isObj(spec) ? spec : {} };
      if (o.key.kind === 'Node') nodes.push(res as NodeInput);
      else if (o.key.kind === 'BGPPeer') peers.push(res as BGPPeerInput);
      else if (o.key.kind === 'BGPConfiguration') bgpConfigs.push(res as BGPConfigurationInput);
      else if (o.key.kind === 'BGPFilter') filters.push(res as BGPFilterInput);
      else if (o.key.kind === 'IPPool') {
        if (typeof res.spec.cidr !== 'string') problems.push(`${what}: spec.cidr missing`);
        else pools.push(res as IPPoolInput);
      }
    } catch (e) {
      problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { input: { nodeName, nodes, peers, bgpConfigs, pools, filters, affinities, borrowedIps: borrowed }, problems };
}
