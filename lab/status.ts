// `tortie-lab status`: nodes with their Tortie routes, BGP sessions and readiness, pods, attached namespaces.
import { installedRoutes, withApi, type InstalledRoute } from '../bgp/api/gobgp/client.js';
import { bgpApi } from './agents.js';
import { memberStatus, type MemberStatus } from './etcd.js';
import { apiserverState } from './kube.js';
import { nsExec } from './sh.js';
import { waitBudget, type LabState } from './state.js';

export interface NodeStatus {
  name: string;
  ip: string;
  /** Its IPv6 fabric address, in a lab with IPv6. */
  ip6?: string;
  /** This node's blocks: its blackhole routes (IPAM picks them in agent mode). */
  blocks: string[];
  /** Agent mode: tortie-node's readiness answer (in sync, BGP sessions up). */
  ready?: string;
  /** Agent mode with BGP: sessions by state, from tortie-node's metrics (tortie_bgp_sessions). */
  sessions?: Record<string, number>;
  /** Agent mode with BGP: each peer and its session state, from the speaker's management socket. */
  peers?: Array<{ address: string; state: string }>;
  /** Agent mode with BGP: the routes the speaker handed felix (prefix, next hops, the peer it came from). */
  bgpRoutes?: InstalledRoute[];
  /** Agent mode with BGP: why the speaker's socket gave no peers (down, or no answer within the budget). */
  speakerError?: string;
  /** Agent mode: tortie-node's convergence histograms (own pod → its route; BGP route → programmed). */
  convergence?: { endpoint?: Quantiles; bgp?: Quantiles };
  routes: string[];
  pods: number;
}

export interface LabStatus {
  mode: string;
  encap: string;
  crossSubnet: boolean;
  etcd: string;
  /** `up --datastore kubernetes`: the apiserver every component uses (etcd is its storage). */
  kubernetes?: string;
  /** Its state: running (ready), down (no process; `tortie-lab apiserver start`), unreachable (not ready). */
  apiserver?: 'running' | 'down' | 'unreachable';
  /** `up --etcd N` with N > 1: each member, whether it runs, and which one leads. */
  etcdMembers?: MemberStatus[];
  nodes: NodeStatus[];
  pods: Array<{ name: string; namespace: string; node: string; ip: string; ip6?: string; iface: string }>;
  attached: Array<{ name: string; ip: string; subnet: number }>;
  /** tortie-rr reflectors (`up --rr N`) and their sessions by state, from their management sockets. */
  reflectors?: Array<{ name: string; ip: string; sessions?: Record<string, number> }>;
}

// One process per host asks tortie-node for readiness and metrics (127.0.0.1 inside the host).
const PROBE = `const get=(p,u)=>fetch('http://127.0.0.1:'+p+u).then(async r=>({ok:r.ok,text:(await r.text()).trim()}),()=>({ok:false,text:''}));
Promise.all([get(9099,'/readiness'),get(9091,'/metrics')]).then(([r,m])=>process.stdout.write(JSON.stringify({r,m:m.text})))`;

/** Sessions by state from Prometheus text: tortie_bgp_sessions{state="Established"} 2. */
export function sessionsFromMetrics(text: string): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  let any = false;
  for (const m of text.matchAll(/^tortie_bgp_sessions\{state="([^"]+)"\} (\d+)/gm)) {
    out[m[1] ?? ''] = Number(m[2]);
    any = true;
  }
  return any ? out : undefined;
}

/** p50 and p99 of a Prometheus histogram as the upper bounds of the buckets they fall in (Infinity: above the last). */
export interface Quantiles {
  p50: number;
  p99: number;
  count: number;
}

export function histogramQuantiles(text: string, name: string): Quantiles | undefined {
  const buckets: { le: number; n: number }[] = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))) buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: Number(m[2]) });
  buckets.sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.n ?? 0;
  if (count === 0) return undefined;
  const q = (x: number): number => buckets.find((b) => b.n >= x * count)?.le ?? Infinity;
  return { p50: q(0.5), p99: q(0.99), count };
}

/** "≤ 50 ms / ≤ 1 s (n = 12)". */
export function quantilesText(q: Quantiles | undefined): string {
  if (!q) return '-';
  const bound = (v: number): string => (v === Infinity ? '> 30 s' : v < 1 ? `≤ ${Math.round(v * 1000)} ms` : `≤ ${v} s`);
  return `${bound(q.p50)} / ${bound(q.p99)} (n = ${q.count})`;
}

async function probeAgent(ns: string): Promise<Pick<NodeStatus, 'ready' | 'sessions' | 'convergence'>> {
  try {
    const { r, m } = JSON.parse(await nsExec(ns, [process.execPath, '-e', PROBE])) as { r: { ok: boolean; text: string }; m: string };
    const sessions = sessionsFromMetrics(m);
    const endpoint = histogramQuantiles(m, 'tortie_endpoint_route_programmed_seconds');
    const bgp = histogramQuantiles(m, 'tortie_bgp_route_programmed_seconds');
    return {
      ready: r.text || 'no answer on 127.0.0.1:9099',
      ...(sessions ? { sessions } : {}),
      ...(endpoint || bgp ? { convergence: { ...(endpoint ? { endpoint } : {}), ...(bgp ? { bgp } : {}) } } : {}),
    };
  } catch (e) {
    return { ready: `probe failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Peers and installed routes from the speaker's API; absent, with the reason, when it does not
 * answer. The 5 s budget scales like the lab's waits: under emulation a busy speaker answers late.
 */
async function probeSpeaker(name: string): Promise<Pick<NodeStatus, 'peers' | 'bgpRoutes' | 'speakerError'>> {
  try {
    const [peers, routes] = await withApi(bgpApi({ name }), (c) => Promise.all([c.peers(), c.routes()]), waitBudget(5000));
    return { peers: peers.map((p) => ({ address: p.address, state: p.state })), bgpRoutes: installedRoutes(routes) };
  } catch (e) {
    return { speakerError: e instanceof Error ? e.message : String(e) };
  }
}

/** "2/2 up", or what is not up: "1/2 up (Active 1)". */
export function sessionsText(s: Record<string, number> | undefined): string {
  if (!s) return '-';
  const total = Object.values(s).reduce((a, b) => a + b, 0);
  const up = s.Established ?? 0;
  const other = Object.entries(s).filter(([k, v]) => k !== 'Established' && v > 0);
  return `${up}/${total} up${other.length ? ` (${other.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`;
}

export async function collectStatus(s: LabState): Promise<LabStatus> {
  const nodes = await Promise.all(
    s.nodes.map(async (n) => {
      const shown = await Promise.all((n.ip6 ? ['-4', '-6'] : ['-4']).map((f) => nsExec(n.ns, ['ip', f, 'route', 'show', 'proto', '80']).catch(() => '')));
      const routes = shown.join('\n').split('\n').filter(Boolean).map((l) => l.trim());
      const blocks = routes.map((r) => /^blackhole (\S+)/.exec(r)?.[1]).filter((b): b is string => b !== undefined);
      const st: NodeStatus = { name: n.name, ip: n.ip, ...(n.ip6 ? { ip6: n.ip6 } : {}), blocks, routes, pods: s.pods.filter((p) => p.node === n.name).length };
      if (s.mode === 'agent') Object.assign(st, await probeAgent(n.ns), s.encap === 'vxlan' ? {} : await probeSpeaker(n.name));
      return st;
    }),
  );
  const members = (s.etcdMembers?.length ?? 1) > 1 ? await memberStatus(s) : undefined;
  const apiserver = s.kube ? await apiserverState(s) : undefined;
  const reflectorNames = new Set(s.reflectors ?? []);
  const reflectors = await Promise.all(
    s.attached
      .filter((a) => reflectorNames.has(a.name))
      .map(async (a) => {
        const { peers } = await probeSpeaker(a.name);
        const sessions = peers ? peers.reduce<Record<string, number>>((acc, p) => ({ ...acc, [p.state]: (acc[p.state] ?? 0) + 1 }), {}) : undefined;
        return { name: a.name, ip: a.ip, ...(sessions ? { sessions } : {}) };
      }),
  );
  return {
    mode: s.mode === 'agent' ? `tortie-node on every host (${s.encap === 'vxlan' ? 'VXLAN routes from the datastore' : 'BGP'})` : 'static (lab-computed routes, no tortie-node)',
    encap: s.encap,
    crossSubnet: s.crossSubnet,
    etcd: s.etcdEndpoint,
    ...(s.kube ? { kubernetes: s.kube.server } : {}),
    ...(apiserver ? { apiserver } : {}),
    ...(members ? { etcdMembers: members } : {}),
    nodes,
    pods: s.pods.map((p) => ({ name: p.name, namespace: p.namespace, node: p.node, ip: p.ip, ...(p.ip6 ? { ip6: p.ip6 } : {}), iface: p.iface })),
    attached: s.attached.filter((a) => !reflectorNames.has(a.name)).map((a) => ({ name: a.name, ip: a.ip, subnet: a.subnet })),
    ...(reflectors.length ? { reflectors } : {}),
  };
}

/** Left-aligned columns sized to their widest cell (numbers right-aligned), two spaces apart. */
export function table(header: string[], rows: string[][]): string[] {
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^\d+$/.test(r[i] ?? '')));
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 && !numeric[i] ? c : numeric[i] ? c.padStart(w[i] ?? 0) : c.padEnd(w[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatStatus(st: LabStatus): string {
  const etcd = st.etcdMembers ? `${st.etcdMembers.length} members` : st.etcd;
  const datastore = st.kubernetes ? `datastore: kubernetes at ${st.kubernetes}${st.apiserver ? ` ${st.apiserver}` : ''} (its etcd: ${etcd})` : `etcd: ${etcd}`;
  const lines = [`${st.mode}   encapsulation: ${st.encap}${st.crossSubnet ? ' (CrossSubnet)' : ''}   ${datastore}`, ''];
  if (st.etcdMembers) lines.push(...table(['ETCD', 'ENDPOINT', 'STATE', 'LEADER'], st.etcdMembers.map((m) => [m.name, m.endpoint, m.state, m.leader ? 'leader' : '-'])), '');
  lines.push(...table(['NODE', 'ADDRESS', 'PODS', 'ROUTES', 'BLOCKS', 'BGP SESSIONS', 'READY'], st.nodes.map((n) => [n.name, [n.ip, n.ip6].filter(Boolean).join(' '), String(n.pods), String(n.routes.length), n.blocks.join(',') || '-', sessionsText(n.sessions), n.ready ?? '-'])));
  if (st.reflectors?.length) lines.push('', ...table(['REFLECTOR', 'ADDRESS', 'BGP SESSIONS'], st.reflectors.map((r) => [r.name, r.ip, r.sessions ? sessionsText(r.sessions) : 'no answer on its socket'])));
  if (st.nodes.some((n) => n.convergence))
    lines.push(
      '',
      ...table(
        ['CONVERGENCE p50 / p99', 'OWN POD → ITS ROUTE', 'BGP ROUTE → PROGRAMMED'],
        st.nodes.map((n) => [n.name, quantilesText(n.convergence?.endpoint), quantilesText(n.convergence?.bgp)]),
      ),
    );
  lines.push('', 'ROUTES (proto 80)');
  const w = Math.max(...st.nodes.map((n) => n.name.length));
  for (const n of st.nodes) n.routes.forEach((r, i) => lines.push(`${(i === 0 ? n.name : '').padEnd(w)}  ${r}`));
  lines.push('');
  if (st.pods.length) lines.push(...table(['POD', 'NODE', 'IP', 'INTERFACE'], st.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, [...new Set([p.ip, p.ip6].filter(Boolean))].join(' '), p.iface])));
  else lines.push('no pods (tortie-lab pod add NAME)');
  if (st.attached.length) lines.push('', ...table(['ATTACHED', 'ADDRESS', 'SEGMENT'], st.attached.map((a) => [a.name, a.ip, String(a.subnet)])));
  return lines.join('\n');
}
