// Reads the syncer's cache (stored objects) into the calc graph's input and the BGP view:
// pools, nodes, this host's and others' blocks, local workload endpoints. Pure; malformed values
// are skipped and reported, never thrown.
import { blockCidrFromName } from '../datastore/keys.js';
import type { StoredObject } from '../datastore/store.js';
import type { BlockInfo, EncapMode, EndpointInfo, NodeInfo, PoolInfo } from '../felix/calc/types.js';

export interface ClusterView {
  pools: PoolInfo[];
  poolExport: Map<string, boolean>;
  nodes: Map<string, NodeInfo & { asNumber?: number }>;
  blocks: BlockInfo[];
  endpoints: EndpointInfo[];
  problems: string[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const mode = (v: unknown): EncapMode => (v === 'Always' || v === 'CrossSubnet' ? v : 'Never');

export function buildView(objects: Iterable<StoredObject>): ClusterView {
  const v: ClusterView = { pools: [], poolExport: new Map(), nodes: new Map(), blocks: [], endpoints: [], problems: [] };
  const affinity = new Map<string, BlockInfo['state']>();
  const rawBlocks: Array<{ cidr: string; node?: string }> = [];
  for (const o of objects) {
    const { kind, name, namespace } = o.key;
    const s = obj(o.value.spec);
    if (!s) {
      v.problems.push(`${kind}(${namespace ? `${namespace}/` : ''}${name}): spec is not an object`);
      continue;
    }
    if (kind === 'IPPool') {
      const cidr = str(s.cidr);
      if (!cidr) {
        v.problems.push(`IPPool(${name}): spec.cidr missing`);
        continue;
      }
      v.pools.push({ name, cidr, ipipMode: mode(s.ipipMode), vxlanMode: mode(s.vxlanMode), natOutgoing: s.natOutgoing === true, disabled: s.disabled === true });
      v.poolExport.set(cidr, s.disableBGPExport !== true && s.disabled !== true);
    } else if (kind === 'Node') {
      const bgp = obj(s.bgp) ?? {};
      const n: NodeInfo & { asNumber?: number } = { name };
      const set = <K extends keyof NodeInfo>(k: K, val: unknown): void => {
        if (typeof val === 'string' && val) (n as Record<K, string>)[k] = val;
      };
      set('ipv4Address', bgp.ipv4Address);
      set('ipv6Address', bgp.ipv6Address);
      set('ipv4IPIPTunnelAddr', bgp.ipv4IPIPTunnelAddr);
      set('ipv4VXLANTunnelAddr', s.ipv4VXLANTunnelAddr);
      set('vxlanTunnelMACAddr', s.vxlanTunnelMACAddr);
      set('ipv6VXLANTunnelAddr', s.ipv6VXLANTunnelAddr);
      set('vxlanTunnelMACAddrV6', s.vxlanTunnelMACAddrV6);
      if (typeof bgp.asNumber === 'number') n.asNumber = bgp.asNumber;
      v.nodes.set(name, n);
    } else if (kind === 'WorkloadEndpoint') {
      const node = str(s.node);
      const iface = str(s.interfaceName);
      const nets = Array.isArray(s.ipNetworks) ? s.ipNetworks.filter((x): x is string => typeof x === 'string') : [];
      if (!node || !iface) continue;
      v.endpoints.push({ key: `${namespace ?? ''}/${name}`, node, iface, ipNetworks: nets });
    } else if (kind === 'IPAMBlock') {
      const cidr = str(s.cidr) ?? blockCidrFromName(name);
      if (!cidr) {
        v.problems.push(`IPAMBlock(${name}): no CIDR`);
        continue;
      }
      const aff = str(s.affinity);
      rawBlocks.push({ cidr, ...(aff?.startsWith('host:') ? { node: aff.slice(5) } : {}) });
    } else if (kind === 'BlockAffinity') {
      const node = str(s.node);
      const cidr = str(s.cidr);
      // Calico v1 affinities had no state: they were confirmed.
      const st = s.state ?? 'confirmed';
      if (node && cidr && (st === 'pending' || st === 'confirmed' || st === 'pendingDeletion')) affinity.set(`${node}|${cidr}`, st);
    }
  }
  for (const b of rawBlocks) {
    const st = b.node ? affinity.get(`${b.node}|${b.cidr}`) : undefined;
    v.blocks.push({ cidr: b.cidr, ...(b.node ? { node: b.node, state: st ?? 'confirmed' } : {}) });
  }
  v.pools.sort((a, b) => a.name.localeCompare(b.name));
  v.blocks.sort((a, b) => a.cidr.localeCompare(b.cidr));
  v.endpoints.sort((a, b) => a.key.localeCompare(b.key));
  return v;
}

/** Blocks this host announces over BGP: its confirmed blocks in pools that allow export. */
export function blocksToAnnounce(view: ClusterView, host: string, poolOf: (cidr: string) => string | undefined): string[] {
  return view.blocks
    .filter((b) => b.node === host && b.state === 'confirmed')
    .filter((b) => {
      const p = poolOf(b.cidr);
      return p !== undefined && view.poolExport.get(p) !== false;
    })
    .map((b) => b.cidr);
}
