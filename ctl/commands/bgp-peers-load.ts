// Datastore side of `tortiectl bgp peers`: reads the v3 resources and this node's IPAM state
// (confirmed block affinities, and addresses its workloads hold in other nodes' blocks) into the
// generator's input. Kept apart from bgp-peers.ts so the formatter stays pure.
import type { Command } from 'commander';
import { affinityHost, parseAffinity, parseBlock } from '../../ipam/model.js';
import { ordinalToIp } from '../../ipam/block.js';
import type { BgpConfigInput } from '../../bgp/config/types.js';
import type { CtlContext } from '../context.js';
import { registerBgpPeers, type BgpPeersDeps } from './bgp-peers.js';

type Loaded = Omit<BgpConfigInput, 'nodeName'>;

export function datastoreLoader(ctx: CtlContext): BgpPeersDeps['load'] {
  return async (nodeName: string): Promise<Loaded> => {
    const client = await ctx.client();
    const [nodes, peers, bgpConfigs, pools, filters] = await Promise.all(
      ['Node', 'BGPPeer', 'BGPConfiguration', 'IPPool', 'BGPFilter'].map(async (k) => (await client.list(k)).items),
    );
    const affinities: string[] = [];
    for (const o of (await client.store.list('BlockAffinity')).items) {
      const spec = o.value.spec as { node?: unknown; cidr?: unknown };
      if (spec.node === nodeName && typeof spec.cidr === 'string' && parseAffinity(o.key.name, o.value.spec).state === 'confirmed') affinities.push(spec.cidr);
    }
    const borrowedIps: string[] = [];
    for (const o of (await client.store.list('IPAMBlock')).items) {
      const b = parseBlock(o.key.name, o.value.spec);
      if (affinityHost(b) === nodeName) continue;
      b.allocations.forEach((attrIdx, ordinal) => {
        if (attrIdx !== null && b.attributes[attrIdx]?.secondary?.node === nodeName) borrowedIps.push(ordinalToIp(b, ordinal));
      });
    }
    return { nodes, peers, bgpConfigs, pools, filters, affinities, borrowedIps } as unknown as Loaded;
  };
}

/** Registry adapter: `RegisterCommand` for ctl/commands/index.ts. */
export function registerBgpPeersCommand(program: Command, ctx: CtlContext): void {
  registerBgpPeers(program, { load: datastoreLoader(ctx), write: (t) => ctx.out.write(t), writeErr: (t) => ctx.err.write(t) });
}
