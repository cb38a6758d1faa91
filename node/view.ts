// Reads the syncer's cache (key → JSON text) into the calc graph's input and the BGP view:
// pools, nodes, this host's and others' blocks, local workload endpoints. Pure; malformed values
// are skipped and reported, never thrown.
import { IPAM_PREFIX, keyPartToCidr, RESOURCE_PREFIX } from '../datastore/keys.js';
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

export function buildView(cache: ReadonlyMap<string, string>): ClusterView {
  const v: ClusterView = { pools: [], poolExport: new Map(), nodes: new Map(), blocks: [], endpoints: [], problems: [] };
  const affinity = new Map<string, BlockInfo['state']>();
  const rawBlocks: Array<{ cidr: string; node?: string }> = [];
  for (const [key, text] of cache) {
    let doc: Json | undefined;
    try {
      doc = obj(JSON.parse(text));
    } catch {
      v.problems.push(`${key}: not JSON`);
      continue;
    }
    if (!doc) continue;
    if (key.startsWith(`${RESOURCE_PREFIX}ippools/`)) {
      const s = obj(doc.spec);
      const cidr = str(s?.cidr);
      if (!s || !cidr) {
        v.problems.push(`${key}: spec.cidr missing`);
        continue;
      }
      const name = key.slice(key.lastIndexOf('/') + 1);
      v.pools.push({ name, cidr, ipipMode: mode(s.ipipMode), vxlanMode: mode(s.vxlanMode), natOutgoing: s.natOutgoing === true, disabled: s.disabled === true });
      v.poolExport.set(cidr, s.disableBGPExport !== true && s.disabled !== true);
    } else if (key.startsWith(`${RESOURCE_PREFIX}nodes/`)) {
      const name = key.slice(key.lastIndexOf('/') + 1);
      const s = obj(doc.spec) ?? {};
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
      if (typeof bgp.asNumber === 'number') n.asNumber = bgp.asNumber;
      v.nodes.set(name, n);
    } else if (key.startsWith(`${RESOURCE_PREFIX}workloadendpoints/`)) {
      const s = obj(doc.spec);
      const node = str(s?.node);
      const iface = str(s?.interfaceName);
      const nets = Array.isArray(s?.ipNetworks) ? s.ipNetworks.filter((x): x is string => typeof x === 'string') : [];
      if (!node || !iface) continue;
      v.endpoints.push({ key: key.slice(`${RESOURCE_PREFIX}workloadendpoints/`.length), node, iface, ipNetworks: nets });
    } else if (key.startsWith(`${IPAM_PREFIX}assignment/`)) {
      const cidr = str(doc.cidr) ?? keyPartToCidr(key.slice(key.lastIndexOf('/') + 1));
      const aff = str(doc.affinity);
      rawBlocks.push({ cidr, ...(aff?.startsWith('host:') ? { node: aff.slice(5) } : {}) });
    } else if (key.startsWith(`${IPAM_PREFIX}host/`)) {
      // /calico/ipam/v2/host/<node>/ipv4/block/<cidr>
      const parts = key.slice(`${IPAM_PREFIX}host/`.length).split('/');
      const node = parts[0];
      const cidrPart = parts[3];
      const st = str(doc.state);
      if (node && cidrPart && (st === 'pending' || st === 'confirmed' || st === 'pendingDeletion')) affinity.set(`${node}|${keyPartToCidr(cidrPart)}`, st);
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
