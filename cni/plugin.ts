// The tortie CNI plugin logic (entry: tortie.ts): veth + proxy-ARP + routes made here, addresses and
// the WorkloadEndpoint through a CniStore (the local tortie-node, else the datastore directly), or
// through the ipam.type plugin when that is not ours. A failed ADD undoes every step it made, in reverse.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseEnv, parseNetConf, SUPPORTED_VERSIONS, type CniEnv, type NetConf } from './config.js';
import { CNI_CODES, CniError } from './errors.js';
import { execIpam } from './ipam-exec.js';
import { assignRequest, availableUnless, BUILTIN_IPAM, checkHeld, checkPrev, handleId, hostCidr, validContainerIds } from './ipam-plugin.js';
import { HOST_MAC, plumb, unplumb, verify } from './netdev.js';
import { withStore } from './open-store.js';
import { decodeResult, encodeResult, type CniResult } from './result.js';
import type { CniStore, EndpointRef } from './store.js';
import { hostVethName, wepName, wepResource } from './wep.js';
import { MTU_FILE } from '../felix/mtu.js';

interface Ident {
  node: string;
  namespace: string;
  pod: string;
  orchestrator: 'k8s' | 'cni';
  hostVeth: string;
  wep: EndpointRef;
}

function ident(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv): Ident {
  const node = conf.nodename ?? procEnv.NODENAME ?? procEnv.KUBERNETES_NODE_NAME ?? hostname();
  const pod = env.args.K8S_POD_NAME;
  const namespace = env.args.K8S_POD_NAMESPACE ?? 'default';
  const name = pod ? wepName(node, pod, env.ifname) : `${node.replace(/-/g, '--')}-cni-${env.containerId.replace(/-/g, '--')}-${env.ifname.replace(/-/g, '--')}`;
  return {
    node,
    namespace,
    pod: pod ?? env.containerId,
    orchestrator: pod ? 'k8s' : 'cni',
    hostVeth: hostVethName(namespace, pod, env.containerId),
    wep: { namespace, name },
  };
}

const builtinIpam = (conf: NetConf): boolean => BUILTIN_IPAM.has(conf.ipam.type);

async function add(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: CniStore): Promise<Record<string, unknown>> {
  const id = ident(conf, env, procEnv);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    // The Kubernetes API is the source of pod labels and IPAM annotations when configured (Calico); else args.cni.labels.
    const pod = conf.kubernetes?.kubeconfig && id.orchestrator === 'k8s' ? await store.pod(conf.kubernetes.kubeconfig, id.namespace, id.pod) : undefined;
    let ipamResult: CniResult;
    if (builtinIpam(conf)) {
      const req = assignRequest(conf, env, id.node, pod?.annotations ?? {});
      undo.push(() => store.release(req.handle));
      ipamResult = { ips: (await store.assign(req)).map(hostCidr), dns: {} };
    } else {
      undo.push(() => execIpam(conf, env, 'DEL', procEnv));
      ipamResult = decodeResult(await execIpam(conf, env, 'ADD', procEnv), `result of IPAM plugin ${conf.ipam.type}`);
    }
    const addresses = ipamResult.ips.map((i) => i.address);
    if (addresses.length === 0) throw new CniError(CNI_CODES.ipamFailure, `IPAM plugin ${conf.ipam.type} returned no address`);
    undo.push(() => unplumb(id.hostVeth, env.netns, env.ifname));
    const { podMac } = await plumb({ netns: env.netns, ifname: env.ifname, hostVeth: id.hostVeth, addresses, mtu: conf.mtu || mtuFromFile(conf.mtu_file ?? MTU_FILE) });
    undo.push(() => store.removeEndpoint(id.wep, env.containerId));
    await store.putEndpoint(
      wepResource({
        node: id.node,
        namespace: id.namespace,
        pod: id.pod,
        containerId: env.containerId,
        endpoint: env.ifname,
        interfaceName: id.hostVeth,
        ipNetworks: addresses,
        mac: podMac,
        labels: pod?.labels ?? conf.labels,
      }),
    );
    return encodeResult(conf.cniVersion, {
      interfaces: [{ name: id.hostVeth, mac: HOST_MAC }, { name: env.ifname, mac: podMac, sandbox: env.netns }],
      ips: ipamResult.ips.map((i) => ({ address: i.address, interface: 1 })),
      routes: [
        ...(addresses.some((a) => !a.includes(':')) ? [{ dst: '0.0.0.0/0' }] : []),
        ...(addresses.some((a) => a.includes(':')) ? [{ dst: '::/0' }] : []),
      ],
      dns: ipamResult.dns ?? {},
    });
  } catch (e) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw e;
  }
}

async function del(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: CniStore): Promise<undefined> {
  const id = ident(conf, env, procEnv);
  // The veth goes (an `ip` run and the kernel's unregister, ~25 ms) while the datastore drops the
  // endpoint and then frees the address (~25 ms of round trips): side by side, not one after the
  // other. The address is freed only once the endpoint is gone; a failure of either side fails the
  // DEL, which the runtime retries (every step is idempotent).
  const datastore = async (): Promise<void> => {
    await store.removeEndpoint(id.wep, env.containerId);
    if (builtinIpam(conf)) await store.release(handleId(conf, env));
  };
  const [ds, link] = await Promise.allSettled([datastore(), unplumb(id.hostVeth, env.netns || undefined, env.ifname)]);
  for (const r of [ds, link]) if (r.status === 'rejected') throw r.reason;
  if (!builtinIpam(conf)) await execIpam(conf, env, 'DEL', procEnv);
  return undefined;
}

async function check(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: CniStore): Promise<undefined> {
  const prev = checkPrev(conf);
  const id = ident(conf, env, procEnv);
  if (builtinIpam(conf)) await checkHeld(conf, env, store, prev);
  else await execIpam(conf, env, 'CHECK', procEnv);
  await verify({ netns: env.netns, ifname: env.ifname, hostVeth: id.hostVeth, addresses: prev.map((i) => i.address) });
  if (!(await store.hasEndpoint(id.wep))) throw new CniError(CNI_CODES.checkFailed, `WorkloadEndpoint ${id.wep.namespace}/${id.wep.name} is missing`);
  return undefined;
}

/** GC goes to a foreign IPAM plugin too (CNI 1.1: a plugin passes GC and STATUS on to its delegates). */
async function gc(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: CniStore): Promise<undefined> {
  if (!builtinIpam(conf) && conf.ipam.type) await execIpam(conf, env, 'GC', procEnv);
  await store.gc({ node: ident(conf, env, procEnv).node, network: conf.name, validContainerIds: validContainerIds(conf) });
  return undefined;
}

export async function pluginMain(stdin: string, procEnv: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown> | undefined> {
  const started = Date.now();
  const env = parseEnv(procEnv);
  if (env.command === 'VERSION') return { cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS };
  const conf = parseNetConf(stdin);
  const deadline = started + conf.timeout_seconds * 1000;
  if (env.command === 'STATUS')
    return availableUnless(async () => {
      if (!builtinIpam(conf) && conf.ipam.type) await execIpam(conf, env, 'STATUS', procEnv);
      await withStore(conf, procEnv, deadline, (store) => store.status());
    });
  return withStore(conf, procEnv, deadline, (store) => {
    if (env.command === 'ADD') return add(conf, env, procEnv, store);
    if (env.command === 'DEL') return del(conf, env, procEnv, store);
    if (env.command === 'CHECK') return check(conf, env, procEnv, store);
    return gc(conf, env, procEnv, store);
  });
}

/**
 * The pod MTU felix wrote, for a config without `mtu` (Calico's CNI plugin does the same); no file yet
 * means no MTU given (the kernel's 1500). A file that does not hold a number fails the ADD.
 */
function mtuFromFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(CNI_CODES.ioFailure, `cannot read the MTU file ${path}: ${(e as Error).message}`);
  }
  const mtu = Number(text);
  if (!/^\d+$/.test(text) || mtu < 68 || mtu > 65535) throw new CniError(CNI_CODES.invalidConfig, `the MTU file ${path} holds ${JSON.stringify(text)}, not an MTU`);
  return mtu;
}
