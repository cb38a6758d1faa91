// Parsing what a runtime hands a plugin: CNI_* environment and the network config on stdin.
// Accepts Calico's config keys so a calico.conf pasted from a tutorial works unchanged.
import { CNI_CODES, CniError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
  path: string[];
}

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CNI_CODES.invalidEnv, 'CNI_COMMAND is not set');
  if (!['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'].includes(command))
    throw new CniError(CNI_CODES.invalidEnv, `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, VERSION`);
  const need = (name: string, required: boolean): string => {
    const v = env[name] ?? '';
    if (required && !v) throw new CniError(CNI_CODES.invalidEnv, `${name} is not set (required for ${command})`);
    return v;
  };
  const withContainer = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  const args: Record<string, string> = {};
  for (const part of (env.CNI_ARGS ?? '').split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CNI_CODES.invalidEnv, `CNI_ARGS item "${part}" is not KEY=VALUE`);
    args[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return {
    command: command as CniCommand,
    containerId: need('CNI_CONTAINERID', withContainer),
    // DEL may come without a netns (the sandbox is already gone).
    netns: need('CNI_NETNS', command === 'ADD' || command === 'CHECK'),
    ifname: need('CNI_IFNAME', withContainer),
    args,
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}

export interface IpamConf {
  type: string;
  ipv4_pools?: string[];
  ipv6_pools?: string[];
  assign_ipv4?: string | boolean;
  assign_ipv6?: string | boolean;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  etcd_endpoints?: string;
  etcd_key_file?: string;
  etcd_cert_file?: string;
  etcd_ca_cert_file?: string;
  datastore_type?: string;
  log_level?: string;
  nodename?: string;
  /** The veth MTU; absent or 0: the one felix computed, from `mtu_file` (Calico: "mtu": 0 is automatic). */
  mtu?: number;
  /** Where felix left the pod MTU (default /var/lib/calico/mtu; the lab's hosts share one filesystem). */
  mtu_file?: string;
  /** tortie-node's CNI socket (default /var/run/tortie/cni.sock). */
  agent_socket?: string;
  /** A command's whole budget, retries included (default 30). */
  timeout_seconds: number;
  ipam: IpamConf;
  kubernetes?: { kubeconfig?: string; k8s_api_root?: string };
  prevResult?: Record<string, unknown>;
  runtimeConfig?: Record<string, unknown>;
  /** Pod labels from `args.cni.labels` (CNI CONVENTIONS "Args in network config"). */
  labels: Record<string, string>;
  /** Everything, verbatim, for passing on to the IPAM plugin. */
  raw: Record<string, unknown>;
}

const isStr = (v: unknown): v is string => typeof v === 'string';

/** Calico's datastore_type values: etcd, or the Kubernetes API (`kubernetes.kubeconfig`). */
export const DATASTORE_TYPES = ['etcdv3', 'kubernetes'];

export function parseNetConf(stdin: string): NetConf {
  let o: unknown;
  try {
    o = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CNI_CODES.decodeFailure, `network config on stdin is not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new CniError(CNI_CODES.decodeFailure, 'network config on stdin must be a JSON object');
  const c = o as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new CniError(CNI_CODES.invalidConfig, `network config field "${field}" must be ${want}`);
  };
  const cniVersion = c.cniVersion ?? '0.1.0';
  if (!isStr(cniVersion)) bad('cniVersion', 'a string');
  if (!SUPPORTED_VERSIONS.includes(cniVersion as string))
    throw new CniError(CNI_CODES.incompatibleVersion, `cniVersion "${String(cniVersion)}" is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  for (const f of ['agent_socket', 'mtu_file', 'etcd_endpoints', 'etcd_key_file', 'etcd_cert_file', 'etcd_ca_cert_file', 'datastore_type', 'log_level', 'nodename'])
    if (c[f] !== undefined && !isStr(c[f])) bad(f, 'a string');
  if (!isStr(c.name ?? '')) bad('name', 'a string');
  if (!isStr(c.type ?? '')) bad('type', 'a string');
  if (c.mtu !== undefined && !(Number.isInteger(c.mtu) && (c.mtu === 0 || ((c.mtu as number) >= 68 && (c.mtu as number) <= 65535)))) bad('mtu', '0 (automatic) or an integer 68–65535');
  if (c.timeout_seconds !== undefined && !(typeof c.timeout_seconds === 'number' && c.timeout_seconds > 0 && c.timeout_seconds <= 3600))
    bad('timeout_seconds', 'a number of seconds above 0, at most 3600');
  const ipam = (c.ipam ?? {}) as Record<string, unknown>;
  if (typeof ipam !== 'object' || Array.isArray(ipam)) bad('ipam', 'an object');
  if (ipam.type !== undefined && !isStr(ipam.type)) bad('ipam.type', 'a string');
  for (const f of ['ipv4_pools', 'ipv6_pools'])
    if (ipam[f] !== undefined && !(Array.isArray(ipam[f]) && (ipam[f] as unknown[]).every(isStr))) bad(`ipam.${f}`, 'an array of strings');
  if (c.kubernetes !== undefined && (typeof c.kubernetes !== 'object' || c.kubernetes === null)) bad('kubernetes', 'an object');
  if (c.prevResult !== undefined && (typeof c.prevResult !== 'object' || c.prevResult === null)) bad('prevResult', 'an object');
  if (c.datastore_type !== undefined && !DATASTORE_TYPES.includes(c.datastore_type as string))
    throw new CniError(CNI_CODES.invalidConfig, `datastore_type "${String(c.datastore_type)}" is not supported; use ${DATASTORE_TYPES.join(' or ')}`);
  const kube = (c.kubernetes ?? {}) as Record<string, unknown>;
  for (const f of ['kubeconfig', 'k8s_api_root']) if (kube[f] !== undefined && !isStr(kube[f])) bad(`kubernetes.${f}`, 'a string');
  const labels = conventionLabels(c.args);
  return {
    cniVersion: cniVersion as string,
    name: (c.name as string | undefined) ?? 'k8s-pod-network',
    type: (c.type as string | undefined) ?? '',
    etcd_endpoints: c.etcd_endpoints as string | undefined,
    etcd_key_file: c.etcd_key_file as string | undefined,
    etcd_cert_file: c.etcd_cert_file as string | undefined,
    etcd_ca_cert_file: c.etcd_ca_cert_file as string | undefined,
    datastore_type: c.datastore_type as string | undefined,
    log_level: c.log_level as string | undefined,
    nodename: c.nodename as string | undefined,
    mtu: c.mtu as number | undefined,
    mtu_file: c.mtu_file as string | undefined,
    agent_socket: c.agent_socket as string | undefined,
    timeout_seconds: (c.timeout_seconds as number | undefined) ?? 30,
    ipam: { ...(ipam as object), type: (ipam.type as string | undefined) ?? '' } as IpamConf,
    kubernetes: c.kubernetes as NetConf['kubernetes'],
    prevResult: c.prevResult as Record<string, unknown> | undefined,
    runtimeConfig: c.runtimeConfig as Record<string, unknown> | undefined,
    labels,
    raw: c,
  };
}

/**
 * Labels a runtime passes in the network config as `"args": {"cni": {"labels": [{"key", "value"}]}}`
 * (CNI CONVENTIONS.md). Calico reads pod labels from the Kubernetes API instead; a runtime without
 * one (tortie-lab) uses this, so the WorkloadEndpoint carries the labels from its first write.
 */
export function conventionLabels(args: unknown): Record<string, string> {
  const bad = (field: string, want: string): never => {
    throw new CniError(CNI_CODES.invalidConfig, `network config field "${field}" must be ${want}`);
  };
  const out: Record<string, string> = {};
  if (args === undefined) return out;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return bad('args', 'an object');
  const cni = (args as Record<string, unknown>).cni;
  if (cni === undefined) return out;
  if (typeof cni !== 'object' || cni === null || Array.isArray(cni)) return bad('args.cni', 'an object');
  const list = (cni as Record<string, unknown>).labels;
  if (list === undefined) return out;
  if (!Array.isArray(list)) return bad('args.cni.labels', 'an array of {"key", "value"} objects');
  list.forEach((item: unknown, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    if (!isStr(o.key) || o.key === '') bad(`args.cni.labels[${i}].key`, 'a non-empty string');
    if (!isStr(o.value)) bad(`args.cni.labels[${i}].value`, 'a string');
    out[o.key as string] = o.value as string;
  });
  return out;
}

/** Calico's flags are strings ("true"/"false") in the config; accept booleans too. */
export function flag(v: string | boolean | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  return v === true || v === 'true';
}
