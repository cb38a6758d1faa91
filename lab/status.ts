// `tortie-lab status`: nodes with their Tortie routes, pods, attached namespaces.
import { readiness } from './agents.js';
import { nsExec } from './sh.js';
import type { LabState } from './state.js';

export interface NodeStatus {
  name: string;
  ip: string;
  /** This node's blocks: its blackhole routes (IPAM picks them in agent mode). */
  blocks: string[];
  /** Agent mode: tortie-node's readiness answer (in sync, BGP sessions up). */
  ready?: string;
  routes: string[];
  pods: number;
}

export interface LabStatus {
  mode: string;
  encap: string;
  crossSubnet: boolean;
  etcd: string;
  nodes: NodeStatus[];
  pods: Array<{ name: string; namespace: string; node: string; ip: string; iface: string }>;
  attached: Array<{ name: string; ip: string; subnet: number }>;
}

export async function collectStatus(s: LabState): Promise<LabStatus> {
  const nodes = await Promise.all(
    s.nodes.map(async (n) => {
      const out = await nsExec(n.ns, ['ip', 'route', 'show', 'proto', '80']).catch(() => '');
      const routes = out.split('\n').filter(Boolean).map((l) => l.trim());
      const blocks = routes.map((r) => /^blackhole (\S+)/.exec(r)?.[1]).filter((b): b is string => b !== undefined);
      const st: NodeStatus = { name: n.name, ip: n.ip, blocks, routes, pods: s.pods.filter((p) => p.node === n.name).length };
      if (s.mode === 'agent') st.ready = (await readiness(n)).text;
      return st;
    }),
  );
  return {
    mode: s.mode === 'agent' ? 'tortie-node (BGP / VXLAN from the datastore)' : 'static (lab-computed routes)',
    encap: s.encap,
    crossSubnet: s.crossSubnet,
    etcd: s.etcdEndpoint,
    nodes,
    pods: s.pods.map((p) => ({ name: p.name, namespace: p.namespace, node: p.node, ip: p.ip, iface: p.iface })),
    attached: s.attached.map((a) => ({ name: a.name, ip: a.ip, subnet: a.subnet })),
  };
}

export function formatStatus(st: LabStatus): string {
  const lines = [`mode: ${st.mode}   encapsulation: ${st.encap}${st.crossSubnet ? ' (CrossSubnet)' : ''}   etcd: ${st.etcd}`, '', 'NODE        ADDRESS          PODS  ROUTES  BLOCKS              READY'];
  for (const n of st.nodes) lines.push(`${n.name.padEnd(11)} ${n.ip.padEnd(16)} ${String(n.pods).padStart(4)}  ${String(n.routes.length).padStart(6)}  ${n.blocks.join(',').padEnd(18)}  ${n.ready ?? '-'}`);
  for (const n of st.nodes) {
    lines.push('', `${n.name} routes (proto 80):`);
    for (const r of n.routes) lines.push(`  ${r}`);
  }
  lines.push('', 'POD                       NODE        IP             IFACE');
  for (const p of st.pods) lines.push(`${`${p.namespace}/${p.name}`.padEnd(25)} ${p.node.padEnd(11)} ${p.ip.padEnd(14)} ${p.iface}`);
  if (st.attached.length) {
    lines.push('', 'ATTACHED');
    for (const a of st.attached) lines.push(`${a.name.padEnd(16)} ${a.ip} (segment ${a.subnet})`);
  }
  return lines.join('\n');
}
