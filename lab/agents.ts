// Agent mode: tortie-node runs in each host namespace against the lab's etcd, and the
// pods come from the real CNI plugin (cni.ts).
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readinessUrl } from './manifests.js';
import { entryCommand } from './routing.js';
import { nsExec, tool } from './sh.js';
import { families, slowHostEnv, stateDir, waitBudget, type LabNode, type LabState } from './state.js';
import { POOL6_CIDR } from './addressing.js';

export function datastoreEnv(s: LabState): Record<string, string> {
  if (s.kube) return { DATASTORE_TYPE: 'kubernetes', KUBECONFIG: s.kube.kubeconfig };
  return { DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: s.etcdEndpoint, ...slowHostEnv() };
}

export function nodeEnv(s: LabState, n: LabNode): Record<string, string> {
  return { ...datastoreEnv(s), NODENAME: n.name, ...hostEnv(s, n) };
}

/** What the lab's topology sets per host on top of a node's datastore settings (the container mode's manifest has those). */
export function hostEnv(s: LabState, n: LabNode): Record<string, string> {
  const mode = s.crossSubnet ? 'CrossSubnet' : 'Always';
  const fams = families(s);
  return {
    // IPv4 stays on the fabric (etcd is reached over it) but an IPv6-only node does not route it.
    IP: fams.includes(4) ? n.ip : 'none',
    ...(fams.includes(6) ? ipv6Env(s) : {}),
    CALICO_NETWORKING_BACKEND: s.encap === 'vxlan' ? 'vxlan' : 'bird',
    CALICO_IPV4POOL_CIDR: s.poolCidr,
    CALICO_IPV4POOL_IPIP: s.encap === 'ipip' ? mode : 'Never',
    CALICO_IPV4POOL_VXLAN: s.encap === 'vxlan' ? mode : 'Never',
    CALICO_IPV4POOL_NAT_OUTGOING: String(s.natOutgoing),
    FELIX_LOGSEVERITYSCREEN: 'info',
    // The GoBGP API on the host's loopback (the `gobgp` CLI's default) and on a socket in the state
    // dir, which the lab (outside the namespace) and `tortie-lab exec NODE -- tortiectl node status` dial.
    TORTIE_GOBGP_API_HOSTS: bgpApiHosts(n),
    // The CNI plugins run in this host's namespace find this agent here (the config's agent_socket).
    TORTIE_CNI_SOCKET: cniSocket(n),
    TORTIE_MTU_FILE: mtuFile(n),
  };
}

/** The node's IPv6 side as a calico-node DaemonSet sets it: autodetected on the fabric interface, the IPv6 pool. */
function ipv6Env(s: LabState): Record<string, string> {
  return {
    IP6: 'autodetect',
    IP6_AUTODETECTION_METHOD: 'interface=eth0',
    CALICO_IPV6POOL_CIDR: POOL6_CIDR,
    CALICO_IPV6POOL_BLOCK_SIZE: '122',
    CALICO_IPV6POOL_VXLAN: s.encap === 'vxlan' ? (s.crossSubnet ? 'CrossSubnet' : 'Always') : 'Never',
    CALICO_IPV6POOL_NAT_OUTGOING: String(s.natOutgoing),
  };
}

/** The host's CNI socket: where its tortie-node serves the plugins. */
export function cniSocket(n: Pick<LabNode, 'name'>): string {
  return join(stateDir(), `${n.name}-cni.sock`);
}

/** The host's /var/lib/calico/mtu: one per host, as the lab's hosts share one filesystem. */
export function mtuFile(n: Pick<LabNode, 'name'>): string {
  return join(stateDir(), n.name, 'var-lib-calico', 'mtu');
}

/** The host's GoBGP API socket as a client dials it (a file in the state dir, so reachable from outside its namespace). */
export function bgpApi(n: Pick<LabNode, 'name'>): string {
  return `unix:${join(stateDir(), `${n.name}-gobgp.sock`)}`;
}

/** TORTIE_GOBGP_API_HOSTS for a host's agent: its loopback and its socket in the state dir. */
export function bgpApiHosts(n: Pick<LabNode, 'name'>): string {
  return `127.0.0.1:50051,unix://${join(stateDir(), `${n.name}-gobgp.sock`)}`;
}

export function startNodeAgent(s: LabState, n: LabNode): number | undefined {
  const log = openSync(join(stateDir(), `${n.name}.log`), 'a');
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...nodeEnv(s, n) };
  const child = spawn('ip', ['netns', 'exec', n.ns, ...entryCommand('node/main')], { detached: true, stdio: ['ignore', log, log], env });
  child.unref();
  return child.pid;
}

export async function waitEtcd(s: LabState, timeoutMs = waitBudget(30_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await nsExec(s.etcdNs, ['etcdctl', `--endpoints=${s.etcdEndpoint}`, 'endpoint', 'health']);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${e instanceof Error ? e.message : String(e)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** The DaemonSet's readiness probe, run in the host's namespace as a kubelet on that host would. */
const readyProbe = (url: string): string =>
  `fetch(${JSON.stringify(url)}).then(async r=>{process.stdout.write(await r.text());process.exit(r.ok?0:1)},()=>{process.stdout.write(${JSON.stringify(`no answer on ${url}\n`)});process.exit(1)})`;

export async function readiness(n: LabNode): Promise<{ ok: boolean; text: string }> {
  return nsExec(n.ns, [process.execPath, '-e', readyProbe(readinessUrl())]).then(
    (text) => ({ ok: true, text: text.trim() }),
    (e: unknown) => ({ ok: false, text: (e instanceof Error ? e.message : String(e)).split(': ').slice(-2).join(': ').trim() }),
  );
}

export async function waitReady(s: LabState, log: (l: string) => void, timeoutMs = waitBudget(90_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(s.nodes.map((n) => n.name));
  while (pending.size) {
    for (const n of s.nodes.filter((x) => pending.has(x.name))) {
      const r = await readiness(n);
      if (r.ok) {
        pending.delete(n.name);
        log(`==> ${n.name} ready`);
      } else if (Date.now() > deadline) {
        throw new Error(`${n.name} not ready after ${timeoutMs / 1000}s: ${r.text} (log: ${join(stateDir(), `${n.name}.log`)})`);
      }
    }
    // Each probe starts a process: on a slow host (scaled waits) poll less often, so probing does not starve the agents.
    if (pending.size) await new Promise((r) => setTimeout(r, waitBudget(500)));
  }
}

/** The namespace's Profile kns.NAME with its labels, written from a host (where etcd is reachable). */
export async function writeNamespaceProfile(s: LabState, name: string, labels: Record<string, string>): Promise<void> {
  const host = s.nodes[0];
  if (!host) throw new Error('the lab has no hosts to reach etcd from');
  await nsExec(host.ns, ['env', ...Object.entries(datastoreEnv(s)).map(([k, v]) => `${k}=${v}`), ...entryCommand('lab/ds-shim'), 'namespace', name, JSON.stringify(labels)]);
}

/** Pids of an agent in a namespace, found by its entry point on the command line: tortie-node
 *  (node/main) on a host, tortie-rr (rr/main) on a reflector. */
export async function agentPids(n: Pick<LabNode, 'ns'>, entry: 'node/main' | 'rr/main' = 'node/main'): Promise<number[]> {
  const out = await tool('ip', ['netns', 'pids', n.ns]).catch(() => '');
  const pattern = new RegExp(`${entry.replace('/', '\\/')}\\.[jt]s`);
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return pattern.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        return false;
      }
    });
}

export async function signalAgent(n: Pick<LabNode, 'ns'>, sig: NodeJS.Signals, entry: 'node/main' | 'rr/main' = 'node/main'): Promise<number> {
  const pids = await agentPids(n, entry);
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
  return pids.length;
}
