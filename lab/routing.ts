// Drives felix in each host without BGP ("static" mode): the lab knows every node's block, so it
// hands felix the routes BGP would have taught it, and felix programs them exactly as it would.
import { fileURLToPath } from 'node:url';
import { calculate } from '../felix/calc/calc.js';
import type { CalcInput, NodeInfo, PoolInfo } from '../felix/calc/types.js';
import { POOL_CIDR } from './addressing.js';
import { nsExec } from './sh.js';
import type { LabNode, LabState } from './state.js';

export function poolOf(s: LabState): PoolInfo {
  const mode = s.crossSubnet ? 'CrossSubnet' : 'Always';
  return {
    name: 'default-ipv4-ippool',
    cidr: s.poolCidr || POOL_CIDR,
    ipipMode: s.encap === 'ipip' ? mode : 'Never',
    vxlanMode: s.encap === 'vxlan' ? mode : 'Never',
    natOutgoing: s.natOutgoing,
  };
}

export function nodeInfo(n: LabNode): NodeInfo {
  const tunnel = n.block.split('/')[0] ?? '';
  return { name: n.name, ipv4Address: n.ip, ipv4IPIPTunnelAddr: tunnel, ipv4VXLANTunnelAddr: tunnel, vxlanTunnelMACAddr: n.vtepMac };
}

export function calcInputFor(s: LabState, node: LabNode): CalcInput {
  return {
    hostname: node.name,
    nodes: new Map(s.nodes.map((n) => [n.name, nodeInfo(n)])),
    pools: [poolOf(s)],
    blocks: s.nodes.map((n) => ({ cidr: n.block, node: n.name })),
    endpoints: s.pods.map((p) => ({ key: `${p.namespace}/${p.name}`, node: p.node, iface: p.iface, ipNetworks: [`${p.ip}/32`] })),
    bgpRoutes: s.nodes.filter((n) => n.name !== node.name).map((n) => ({ dst: n.block, nextHops: [n.ip.split('/')[0] ?? ''] })),
  };
}

/** argv that runs one of our entry points (path relative to the repo root, no extension), from
 * dist when built or from source under tsx (tests). */
export function entryCommand(rel: string, nodeOptions: readonly string[] = []): string[] {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? 'ts' : 'js';
  const target = fileURLToPath(new URL(`../${rel}.${ext}`, import.meta.url));
  return ext === 'ts' ? [process.execPath, ...nodeOptions, '--import', 'tsx', target] : [process.execPath, ...nodeOptions, target];
}

export async function programNode(s: LabState, node: LabNode): Promise<void> {
  if (s.mode === 'agent') return; // tortie-node programs its own host
  const desired = calculate(calcInputFor(s, node));
  try {
    await nsExec(node.ns, entryCommand('felix/dataplane/apply-main'), JSON.stringify(desired));
  } catch (e) {
    throw new Error(`felix apply on ${node.name} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function programAll(s: LabState): Promise<void> {
  await Promise.all(s.nodes.map((n) => programNode(s, n)));
}
