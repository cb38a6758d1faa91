// `tortie-lab status`: nodes with their Tortie routes, pods, attached namespaces.
import { nsExec } from './sh.js';
import type { LabState } from './state.js';

export interface NodeStatus {
  name: string;
  ip: string;
  block: string;
  routes: string[];
  pods: number;
}

export interface LabStatus {
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
      return { name: n.name, ip: n.ip, block: n.block, routes: out.split('\n').filter(Boolean).map((l) => l.trim()), pods: s.pods.filter((p) => p.node === n.name).length };
    }),
  );
  return {
    encap: s.encap,
    crossSubnet: s.crossSubnet,
    etcd: s.etcdEndpoint,
    nodes,
    pods: s.pods.map((p) => ({ name: p.name, namespace: p.namespace, node: p.node, ip: p.ip, iface: p.iface })),
    attached: s.attached.map((a) => ({ name: a.name, ip: a.ip, subnet: a.subnet })),
  };
}

export function formatStatus(st: LabStatus): string {
  const lines = [`encapsulation: ${st.encap}${st.crossSubnet ? ' (CrossSubnet)' : ''}   etcd: ${st.etcd}`, '', 'NODE        ADDRESS          BLOCK            PODS  ROUTES'];
  for (const n of st.nodes) lines.push(`${n.name.padEnd(11)} ${n.ip.padEnd(16)} ${n.block.padEnd(16)} ${String(n.pods).padStart(4)}  ${n.routes.length}`);
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
