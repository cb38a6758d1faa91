// The CNI IPAM plugin logic (entry: tortie-ipam.ts) (Calico's calico-ipam) over ipam/. ADD assigns, DEL releases
// (idempotent: an unknown handle is success), CHECK verifies the handle still holds prevResult's IPs.
import { hostname } from 'node:os';
import type { IpamClient } from '../ipam/allocator.js';
import { flag, parseEnv, parseNetConf, SUPPORTED_VERSIONS, type CniEnv, type NetConf } from './config.js';
import { storeFromConf, closeStore } from './datastore.js';
import { CNI_CODES, CniError } from './errors.js';
import { listAnnotation, readPod } from './k8s.js';
import { decodeResult, encodeResult, type CniIp } from './result.js';

export function nodeName(conf: NetConf, env: NodeJS.ProcessEnv = process.env): string {
  return conf.nodename ?? env.NODENAME ?? env.KUBERNETES_NODE_NAME ?? hostname();
}

/** Calico's handle: "<network name>.<container id>". */
export function handleId(conf: NetConf, env: CniEnv): string {
  return `${conf.name}.${env.containerId}`;
}

async function add(conf: NetConf, env: CniEnv, ipam: IpamClient): Promise<Record<string, unknown>> {
  const node = nodeName(conf);
  const ns = env.args.K8S_POD_NAMESPACE;
  const pod = env.args.K8S_POD_NAME;
  const attrs: Record<string, string> = { node, timestamp: new Date().toISOString(), ...(ns ? { namespace: ns } : {}), ...(pod ? { pod } : {}) };
  let annotations: Record<string, string> = {};
  if (conf.kubernetes?.kubeconfig && ns && pod) annotations = (await readPod(conf.kubernetes.kubeconfig, ns, pod)).annotations;
  const handle = handleId(conf, env);
  // A retried ADD for the same container returns what it already holds.
  const held = await ipam.ipsByHandle(handle);
  let ips: string[];
  const requested = listAnnotation(annotations, 'cni.projectcalico.org/ipAddrs') ?? (env.args.IP ? env.args.IP.split(',') : undefined);
  if (held.length > 0) ips = held;
  else if (requested) {
    ips = [];
    try {
      for (const ip of requested) ips.push((await ipam.assignIp(ip.trim(), handle, node, attrs)).ip);
    } catch (e) {
      await ipam.releaseByHandle(handle);
      throw e;
    }
  } else {
    const r = await ipam.autoAssign({
      handleId: handle,
      hostname: node,
      attrs,
      num4: flag(conf.ipam.assign_ipv4, true) ? 1 : 0,
      num6: flag(conf.ipam.assign_ipv6, false) ? 1 : 0,
      ipv4Pools: listAnnotation(annotations, 'cni.projectcalico.org/ipv4pools') ?? conf.ipam.ipv4_pools,
      ipv6Pools: listAnnotation(annotations, 'cni.projectcalico.org/ipv6pools') ?? conf.ipam.ipv6_pools,
    });
    ips = [...r.ipv4, ...r.ipv6].map((a) => a.ip);
  }
  const out: CniIp[] = ips.map((ip) => ({ address: ip.includes(':') ? `${ip}/128` : `${ip}/32` }));
  return encodeResult(conf.cniVersion, { ips: out, dns: {} });
}

async function check(conf: NetConf, env: CniEnv, ipam: IpamClient): Promise<undefined> {
  if (!conf.prevResult) throw new CniError(CNI_CODES.invalidConfig, 'CHECK needs prevResult in the network config');
  const prev = decodeResult(conf.prevResult, 'prevResult');
  const held = new Set(await ipam.ipsByHandle(handleId(conf, env)));
  for (const ip of prev.ips) {
    const addr = ip.address.split('/')[0];
    if (!held.has(addr)) throw new CniError(CNI_CODES.checkFailed, `IPAM: ${addr} is not allocated to container ${env.containerId}`);
  }
  return undefined;
}

export async function ipamMain(stdin: string, procEnv: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown> | undefined> {
  const env = parseEnv(procEnv);
  if (env.command === 'VERSION') return { cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS };
  const conf = parseNetConf(stdin);
  if (env.command === 'STATUS' || env.command === 'GC') return undefined;
  const be = storeFromConf(conf, procEnv);
  try {
    // The allocator (pool schemas, selectors) loads beside the etcd client, only for a command that uses them.
    const [store, { IpamClient: Client }] = await Promise.all([be, import('../ipam/allocator.js')]);
    const ipam = new Client(store);
    if (env.command === 'ADD') return await add(conf, env, ipam);
    if (env.command === 'DEL') {
      await ipam.releaseByHandle(handleId(conf, env));
      return undefined;
    }
    return await check(conf, env, ipam);
  } finally {
    await closeStore(be);
  }
}

