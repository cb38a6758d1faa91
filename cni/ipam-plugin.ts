// The CNI IPAM plugin logic (entry: tortie-ipam.ts) (Calico's calico-ipam) over a CniStore. ADD
// assigns, DEL releases (idempotent: an unknown handle is success), CHECK verifies the handle still
// holds prevResult's IPs. tortie uses the same functions in-process when ipam.type is ours.
import { hostname } from 'node:os';
import { flag, parseEnv, parseNetConf, SUPPORTED_VERSIONS, type CniEnv, type NetConf } from './config.js';
import { CNI_CODES, CniError } from './errors.js';
import { listAnnotation } from './k8s.js';
import { DirectPathElsewhere, withStore } from './open-store.js';
import { toCniError } from './run.js';
import { decodeResult, encodeResult, type CniIp } from './result.js';
import type { AssignRequest, CniStore } from './store.js';

/** ipam.type values answered by tortie's own IPAM (calico.conf from a tutorial says "calico-ipam"). */
export const BUILTIN_IPAM = new Set(['calico-ipam', 'tortie-ipam']);

export function nodeName(conf: NetConf, env: NodeJS.ProcessEnv = process.env): string {
  return conf.nodename ?? env.NODENAME ?? env.KUBERNETES_NODE_NAME ?? hostname();
}

/** Calico's handle: "<network name>.<container id>". */
export function handleId(conf: NetConf, env: CniEnv): string {
  return `${conf.name}.${env.containerId}`;
}

/** Calico's choice of address: the ipAddrs annotation or IP= in CNI_ARGS, else pools from annotations or the config. */
export function assignRequest(conf: NetConf, env: CniEnv, node: string, annotations: Record<string, string>): AssignRequest {
  const ns = env.args.K8S_POD_NAMESPACE;
  const pod = env.args.K8S_POD_NAME;
  const requested = listAnnotation(annotations, 'cni.projectcalico.org/ipAddrs') ?? (env.args.IP ? env.args.IP.split(',') : undefined);
  return {
    handle: handleId(conf, env),
    node,
    attrs: { node, timestamp: new Date().toISOString(), ...(ns ? { namespace: ns } : {}), ...(pod ? { pod } : {}) },
    ...(requested ? { requested: requested.map((ip) => ip.trim()) } : {}),
    num4: flag(conf.ipam.assign_ipv4, true) ? 1 : 0,
    num6: flag(conf.ipam.assign_ipv6, false) ? 1 : 0,
    ipv4Pools: listAnnotation(annotations, 'cni.projectcalico.org/ipv4pools') ?? conf.ipam.ipv4_pools,
    ipv6Pools: listAnnotation(annotations, 'cni.projectcalico.org/ipv6pools') ?? conf.ipam.ipv6_pools,
  };
}

export const hostCidr = (ip: string): CniIp => ({ address: ip.includes(':') ? `${ip}/128` : `${ip}/32` });

async function add(conf: NetConf, env: CniEnv, store: CniStore): Promise<Record<string, unknown>> {
  const ns = env.args.K8S_POD_NAMESPACE;
  const pod = env.args.K8S_POD_NAME;
  const annotations = conf.kubernetes?.kubeconfig && ns && pod ? (await store.pod(conf.kubernetes.kubeconfig, ns, pod)).annotations : {};
  const ips = await store.assign(assignRequest(conf, env, nodeName(conf), annotations));
  return encodeResult(conf.cniVersion, { ips: ips.map(hostCidr), dns: {} });
}

/** CHECK: the handle still holds every address of prevResult. */
export async function checkHeld(conf: NetConf, env: CniEnv, store: CniStore, prev: CniIp[]): Promise<void> {
  const held = new Set(await store.held(handleId(conf, env)));
  for (const ip of prev) {
    const addr = ip.address.split('/')[0];
    if (!held.has(addr ?? '')) throw new CniError(CNI_CODES.checkFailed, `IPAM: ${addr} is not allocated to container ${env.containerId}`);
  }
}

/** cni.dev/valid-attachments (CNI 1.1 GC): the container IDs the runtime still has. */
export function validContainerIds(conf: NetConf): string[] {
  const list = conf.raw['cni.dev/valid-attachments'];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new CniError(CNI_CODES.invalidConfig, 'network config field "cni.dev/valid-attachments" must be an array');
  return list.map((a: unknown, i) => {
    const id = (a as { containerID?: unknown } | null)?.containerID;
    if (typeof id !== 'string' || !id) throw new CniError(CNI_CODES.invalidConfig, `network config field "cni.dev/valid-attachments[${i}].containerID" must be a non-empty string`);
    return id;
  });
}

/** STATUS (CNI 1.1): error 50, "not available", naming why an ADD could not be served now. */
export async function availableUnless(check: () => Promise<unknown>): Promise<undefined> {
  try {
    await check();
  } catch (e) {
    if (e instanceof DirectPathElsewhere) throw e;
    throw new CniError(CNI_CODES.notAvailable, `cannot serve ADD: ${toCniError(e).message}`);
  }
  return undefined;
}

export async function ipamMain(stdin: string, procEnv: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown> | undefined> {
  const started = Date.now();
  const env = parseEnv(procEnv);
  if (env.command === 'VERSION') return { cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS };
  const conf = parseNetConf(stdin);
  const prev = env.command === 'CHECK' ? checkPrev(conf) : [];
  const deadline = started + conf.timeout_seconds * 1000;
  if (env.command === 'STATUS') return availableUnless(() => withStore(conf, procEnv, deadline, (store) => store.status()));
  return withStore(conf, procEnv, deadline, async (store) => {
    switch (env.command) {
      case 'ADD':
        return add(conf, env, store);
      case 'DEL':
        await store.release(handleId(conf, env));
        return undefined;
      case 'CHECK':
        await checkHeld(conf, env, store, prev);
        return undefined;
      default:
        await store.gc({ node: nodeName(conf, procEnv), network: conf.name, validContainerIds: validContainerIds(conf) });
        return undefined;
    }
  });
}

/** prevResult's addresses, required by CHECK. */
export function checkPrev(conf: NetConf): CniIp[] {
  if (!conf.prevResult) throw new CniError(CNI_CODES.invalidConfig, 'CHECK needs prevResult in the network config');
  return decodeResult(conf.prevResult, 'prevResult').ips;
}
