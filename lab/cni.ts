// Lab pods through the real CNI plugins, run the way a container runtime on the host runs them:
// `ip netns exec <host> tortie` with the CNI_* environment, a calico.conf-style network config on
// stdin (the lab's etcd, this host's node name), CNI_PATH holding tortie and tortie-ipam. Pod
// labels travel in the config as `args.cni.labels` (CNI conventions), so the plugin writes them into
// the WorkloadEndpoint with everything else — there is no Kubernetes API for it to ask.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cniSocket, mtuFile } from './agents.js';
import { computeMtus, type Encapsulation } from '../felix/mtu.js';
import { entryCommand } from './routing.js';
import { families, hostCniDirs, slowHostEnv, stateDir, type LabNode, type LabState } from './state.js';

const PLUGINS = ['tortie', 'tortie-ipam'] as const;

/**
 * Pod MTU as felix computes it on the lab's hosts (the fabric's MTU less the encapsulation), for
 * container mode's veth_mtu; agent-mode pods get it from the MTU file their host's tortie-node writes.
 */
export function podMtu(s: Pick<LabState, 'encap' | 'fabricMtu' | 'ipFamilies'>): number {
  // VXLAN carries each family in its own tunnel: over IPv6 it costs 70 bytes, not 50.
  const inUse: Encapsulation[] = s.encap === 'none' ? [] : s.encap === 'vxlan' ? families(s).map((f) => (f === 4 ? 'vxlan' : 'vxlanV6')) : [s.encap];
  return computeMtus(s.fabricMtu ?? 1500, { ipipMTU: 0, vxlanMTU: 0, vxlanMTUV6: 0 }, new Set(inUse)).pod;
}

/** The network config, as /etc/cni/net.d/10-calico.conf would hold it on this host. */
export function netConf(s: LabState, node: LabNode): Record<string, unknown> {
  if (s.containers && s.kube) return installedConf(node);
  // On the Kubernetes datastore as Calico's calico.conf has it: the kubeconfig, which the plugin also reads pod labels with.
  const datastore = s.kube ? { datastore_type: 'kubernetes', kubernetes: { kubeconfig: s.kube.kubeconfig } } : { datastore_type: 'etcdv3', etcd_endpoints: s.etcdEndpoint };
  return {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'tortie',
    ...datastore,
    log_level: 'info',
    nodename: node.name,
    // No mtu: the plugin reads the one tortie-node computed, as Calico's does with "mtu": 0.
    mtu_file: mtuFile(node),
    agent_socket: cniSocket(node),
    // Answered by tortie-ipam, as in a calico.conf from a tutorial; assign_ipv6 as Calico's dual-stack manifests set it.
    ipam: { type: 'calico-ipam', ...ipamFamilies(s) },
  };
}

interface PluginConf {
  type?: string;
  kubernetes?: { kubeconfig?: string };
}

/**
 * Container mode on the Kubernetes datastore: the tortie plugin's entry of the conflist install-cni
 * wrote on this host, as a runtime runs each plugin of a list — with the CNI plugin's own
 * kubeconfig. Only the host paths move into the host's directories in the state dir (the lab's
 * hosts share one filesystem), and the agent socket is this host's.
 */
function installedConf(node: LabNode): Record<string, unknown> {
  const dir = hostCniDirs(node).cniNet;
  const file = readdirSync(dir).find((f) => f.endsWith('.conflist'));
  if (!file) throw new Error(`${dir}: no conflist (install-cni has not run on ${node.name})`);
  const list = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { name?: string; cniVersion?: string; plugins?: PluginConf[] };
  const plugin = list.plugins?.find((p) => p.type === 'tortie');
  const kubeconfig = plugin?.kubernetes?.kubeconfig;
  if (!plugin || !kubeconfig) throw new Error(`${join(dir, file)}: no tortie plugin with kubernetes.kubeconfig`);
  return { ...plugin, cniVersion: list.cniVersion, name: list.name, kubernetes: { ...plugin.kubernetes, kubeconfig: join(dir, basename(kubeconfig)) }, agent_socket: cniSocket(node) };
}

function ipamFamilies(s: LabState): Record<string, string> {
  const f = families(s);
  if (!f.includes(6)) return {};
  return { assign_ipv4: String(f.includes(4)), assign_ipv6: 'true' };
}

/** CNI_PATH: the repository's bin/ when built (bin/tortie runs dist/), else tsx wrappers (tests). */
export function cniPath(): string {
  const built = entryCommand('cni/tortie').length === 2;
  if (built) return fileURLToPath(new URL('../../bin', import.meta.url));
  const dir = join(stateDir(), 'cni-bin');
  if (!existsSync(join(dir, 'tortie-ipam'))) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    for (const name of PLUGINS) {
      const [node, , , entry] = entryCommand(`cni/${name}`);
      // An absolute loader path: the runtime may call the plugin from any working directory.
      const loader = fileURLToPath(new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url));
      writeFileSync(join(dir, name), `#!/bin/sh\nexec ${node} --import file://${loader} ${entry}\n`, { mode: 0o755 });
    }
  }
  return dir;
}

/** Writes each host's config where a user can read it (state dir, cni/<node>.conf). */
export function writeNetConfs(s: LabState): void {
  const dir = join(stateDir(), 'cni');
  mkdirSync(dir, { recursive: true });
  for (const n of s.nodes) writeFileSync(join(dir, `${n.name}.conf`), `${JSON.stringify(netConf(s, n), null, 2)}\n`);
}

export interface CniPod {
  name: string;
  namespace: string;
  /** The pod's network namespace name. */
  ns: string;
  containerId: string;
  labels: Record<string, string>;
  /** The Pod's uid, on the Kubernetes datastore (kubelet passes K8S_POD_UID). */
  uid?: string;
}

export const newContainerId = (): string => randomBytes(32).toString('hex');

interface CniOutput {
  code?: number;
  msg?: string;
  ips?: { address?: string }[];
  interfaces?: { name?: string; sandbox?: string }[];
}

function runPlugin(s: LabState, node: LabNode, command: 'ADD' | 'DEL', pod: CniPod): Promise<CniOutput | undefined> {
  const conf = { ...netConf(s, node), args: { cni: { labels: Object.entries(pod.labels).map(([key, value]) => ({ key, value })) } } };
  // Container mode: the plugins install-cni copied onto this host, as a runtime there finds them.
  const path = s.containers ? hostCniDirs(node).cniBin : cniPath();
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: `/run/netns/${pod.ns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: path,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}${pod.uid ? `;K8S_POD_UID=${pod.uid}` : ''}`,
    ...slowHostEnv(),
  };
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', node.ns, join(path, 'tortie')], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      let out: CniOutput | undefined;
      try {
        out = stdout.trim() ? (JSON.parse(stdout) as CniOutput) : undefined;
      } catch {
        out = undefined;
      }
      const what = `CNI ${command} for pod ${pod.namespace}/${pod.name} on ${node.name}`;
      if (err) reject(new Error(`${what} failed: ${out?.msg ?? (stderr.trim() || err.message)}${out?.code ? ` (CNI error ${out.code})` : ''}`));
      else resolve(out);
    });
    child.stdin?.end(JSON.stringify(conf));
  });
}

/**
 * A failed ADD leaves nothing behind, so kubelet retries it with back-off; so does the lab, this
 * often (1, 2, 4, 8, 8 s apart: 20 hosts starting at once on a loaded machine can keep a datastore
 * call waiting past an ADD's budget). Errors about the request itself are not retried.
 */
const ADD_ATTEMPTS = 6;
const ADD_BACKOFF_MS = 1000;
const ADD_BACKOFF_MAX_MS = 8000;
/** CNI errors a retry cannot cure: incompatible version, unsupported field, bad environment, undecodable or invalid config. */
const FINAL_CNI_ERRORS = new Set([1, 2, 4, 6, 7]);
const retryable = (e: unknown): boolean => !(e instanceof Error && FINAL_CNI_ERRORS.has(Number(/\(CNI error (\d+)\)$/.exec(e.message)?.[1])));

/**
 * CNI ADD: the plugin makes the veth pair, assigns the address and writes the WorkloadEndpoint.
 * `attempts: 1` runs the plugin once, for a caller that retries (and counts failures) itself.
 */
export async function cniAdd(s: LabState, node: LabNode, pod: CniPod, opts: { attempts?: number } = {}): Promise<{ ip: string; ip6?: string; iface: string }> {
  const attempts = opts.attempts ?? ADD_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    let out: CniOutput | undefined;
    try {
      out = await runPlugin(s, node, 'ADD', pod);
    } catch (e) {
      if (attempt >= attempts || !retryable(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.min(ADD_BACKOFF_MS * 2 ** (attempt - 1), ADD_BACKOFF_MAX_MS)));
      continue;
    }
    const addrs = (out?.ips ?? []).map((i) => i.address?.split('/')[0]).filter((a): a is string => !!a);
    // The IPv4 address first (IPv6-only: the IPv6 one); ip6 whenever there is one.
    const ip = addrs.find((a) => !a.includes(':')) ?? addrs[0];
    const ip6 = addrs.find((a) => a.includes(':'));
    const iface = out?.interfaces?.find((i) => !i.sandbox)?.name;
    if (!ip || !iface) throw new Error(`CNI ADD for pod ${pod.namespace}/${pod.name}: result without an address or host interface: ${JSON.stringify(out)}`);
    return { ip, ...(ip6 ? { ip6 } : {}), iface };
  }
}

/** CNI DEL: removes the WorkloadEndpoint, the interfaces and the address (idempotent). */
export async function cniDel(s: LabState, node: LabNode, pod: CniPod): Promise<void> {
  await runPlugin(s, node, 'DEL', pod);
}
