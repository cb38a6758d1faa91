// The lab's on-disk record of what it built, so every later command (and `down` after a crash)
// knows the namespaces, addresses and processes. One JSON file in the state dir.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type Encap = 'none' | 'ipip' | 'vxlan';
/** The pods' address families: `up` (IPv4), `up --ipv6`, `up --dual-stack`. */
export type IpFamilies = 'ipv4' | 'ipv6' | 'dual';

export function families(s: Pick<LabState, 'ipFamilies'>): Array<4 | 6> {
  const f = s.ipFamilies ?? 'ipv4';
  return f === 'dual' ? [4, 6] : f === 'ipv6' ? [6] : [4];
}

export interface LabNode {
  name: string;
  ns: string;
  /** "10.0.0.11/24" */
  ip: string;
  /** "fd00:0:0:0::11/64" when the lab has IPv6. */
  ip6?: string;
  subnet: number;
  block: string;
  vtepMac: string;
}

export interface LabPod {
  name: string;
  namespace: string;
  node: string;
  ns: string;
  /** The pod's IPv4 address (its IPv6 one in an IPv6-only lab). */
  ip: string;
  /** Its IPv6 address in a dual-stack lab (and the same as ip in an IPv6-only one). */
  ip6?: string;
  iface: string;
  labels: Record<string, string>;
  /** Agent mode: the CNI_CONTAINERID the pod was added with (DEL needs the same). */
  containerId?: string;
  /** Kubernetes datastore: the Pod's metadata.uid (K8S_POD_UID). */
  uid?: string;
}

/** `up --datastore kubernetes`: the lab's kube-apiserver. */
export interface LabKube {
  /** Where kube-apiserver and kubectl are. */
  binDir: string;
  /** https://10.0.0.2:6443 */
  server: string;
  /** The admin kubeconfig every component is given. */
  kubeconfig: string;
}

export interface LabEtcdMember {
  /** etcd (a single member) or etcd1, etcd2, … */
  name: string;
  ns: string;
  /** Its address on segment 0, no length. */
  ip: string;
}

export interface LabAttached {
  name: string;
  ns: string;
  ip: string;
  subnet: number;
}

export interface LabState {
  prefix: string;
  /** agent: tortie-node on each host (BGP/VXLAN from the datastore); static: the lab computes routes. */
  mode: 'agent' | 'static';
  /** Agent mode from the images (`up --containers`): tortie-node and tortie-rr run with podman. */
  containers?: boolean;
  /** `up --mtu N`: the fabric's MTU (absent: the kernel's 1500). */
  fabricMtu?: number;
  encap: Encap;
  crossSubnet: boolean;
  natOutgoing: boolean;
  subnets: number;
  poolCidr: string;
  /** Absent in a lab recorded before IPv6: ipv4. */
  ipFamilies?: IpFamilies;
  fabricNs: string;
  routerNs?: string;
  /** The first etcd member's namespace (tortiectl runs there: `tortie-lab ctl`; kube-apiserver and tortie-controllers too on the Kubernetes datastore). */
  etcdNs: string;
  /** Every member's client URL, comma-separated, as ETCD_ENDPOINTS and etcd_endpoints take them. */
  etcdEndpoint: string;
  /** `up --etcd N`: the members; absent in a lab recorded before clusters (one member, etcdNs). */
  etcdMembers?: LabEtcdMember[];
  pids: number[];
  nodes: LabNode[];
  pods: LabPod[];
  attached: LabAttached[];
  /** The attached namespaces that run tortie-rr (`up --rr N`): rr1, rr2, … */
  reflectors?: string[];
  namespaces: Record<string, Record<string, string>>;
  /** Present when the lab's datastore is the Kubernetes API (`up --datastore kubernetes`); etcd otherwise. */
  kube?: LabKube;
}

export function stateDir(): string {
  return process.env.TORTIE_LAB_STATE ?? '/run/tortie-lab';
}

/** Container mode: a host's /opt/cni/bin and /etc/cni/net.d (install-cni writes them). */
export function hostCniDirs(n: Pick<LabNode, 'name'>): { cniBin: string; cniNet: string } {
  return { cniBin: join(stateDir(), n.name, 'opt-cni-bin'), cniNet: join(stateDir(), n.name, 'etc-cni-net.d') };
}

/**
 * A wait budget of `ms` natively, multiplied by TORTIE_LAB_WAIT_SCALE where everything runs slower
 * (the IPIP test's emulated VM: start-up there takes many times as long). Only budgets scale, so
 * the native path waits no longer than before.
 */
export function waitBudget(ms: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TORTIE_LAB_WAIT_SCALE;
  if (raw === undefined || raw.trim() === '') return ms;
  const k = Number(raw);
  if (!Number.isFinite(k) || k <= 0) throw new Error(`TORTIE_LAB_WAIT_SCALE must be a positive number, got "${raw}"`);
  return Math.round(ms * k);
}

/**
 * What the lab adds to the environment of the processes it starts (tortie-node, CNI plugins, its
 * datastore helpers) on a slow host: etcd's 4 s per-call budget scaled like the lab's own waits,
 * unless TORTIE_ETCD_CALL_TIMEOUT_MS is set already (then that is passed on). Empty natively.
 */
export function slowHostEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const set = env.TORTIE_ETCD_CALL_TIMEOUT_MS?.trim();
  if (set) return { TORTIE_ETCD_CALL_TIMEOUT_MS: set };
  const ms = waitBudget(4000, env);
  return ms === 4000 ? {} : { TORTIE_ETCD_CALL_TIMEOUT_MS: String(ms) };
}

/** Namespace name prefix; tests set their own so they never collide with a user's lab. */
export function nsPrefix(): string {
  return process.env.TORTIE_LAB_PREFIX ?? 'tl-';
}

const file = (): string => join(stateDir(), 'state.json');

export function loadState(): LabState | undefined {
  if (!existsSync(file())) return undefined;
  return JSON.parse(readFileSync(file(), 'utf8')) as LabState;
}

export function requireState(): LabState {
  const s = loadState();
  if (!s) throw new Error(`no lab is up (no ${file()}); run \`tortie-lab up\` first`);
  return s;
}

export function saveState(s: LabState): void {
  mkdirSync(stateDir(), { recursive: true });
  writeFileSync(file(), `${JSON.stringify(s, null, 2)}\n`);
}
