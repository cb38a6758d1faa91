// The tortie CNI plugin logic (entry: tortie.ts): veth + proxy-ARP + routes, IPAM through the
// ipam.type plugin, and the WorkloadEndpoint. A failed ADD undoes every step it made, in reverse.
import { hostname } from 'node:os';
import { DatastoreError } from '../datastore/backend.js';
import type { ObjectKey, Store, StoredValue } from '../datastore/store.js';
import { parseEnv, parseNetConf, SUPPORTED_VERSIONS, type CniEnv, type NetConf } from './config.js';
import { storeFromConf, closeStore } from './datastore.js';
import { CNI_CODES, CniError } from './errors.js';
import { execIpam } from './ipam-exec.js';
import { readPod } from './k8s.js';
import { HOST_MAC, plumb, unplumb, verify } from './netdev.js';
import { decodeResult, encodeResult } from './result.js';
import { hostVethName, wepName, wepResource } from './wep.js';

interface Ident {
  node: string;
  namespace: string;
  pod: string;
  orchestrator: 'k8s' | 'cni';
  hostVeth: string;
  wepKey: ObjectKey;
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
    wepKey: { kind: 'WorkloadEndpoint', name, namespace },
  };
}

async function add(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: Promise<Store>): Promise<Record<string, unknown>> {
  const id = ident(conf, env, procEnv);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    // The Kubernetes API is the source of pod labels when configured (Calico); else args.cni.labels.
    let labels: Record<string, string> = conf.labels;
    if (conf.kubernetes?.kubeconfig && id.orchestrator === 'k8s') labels = (await readPod(conf.kubernetes.kubeconfig, id.namespace, id.pod)).labels;
    undo.push(() => execIpam(conf, env, 'DEL', procEnv));
    const ipamResult = decodeResult(await execIpam(conf, env, 'ADD', procEnv), `result of IPAM plugin ${conf.ipam.type}`);
    const addresses = ipamResult.ips.map((i) => i.address);
    if (addresses.length === 0) throw new CniError(CNI_CODES.ipamFailure, `IPAM plugin ${conf.ipam.type} returned no address`);
    undo.push(() => unplumb(id.hostVeth, addresses, env.netns, env.ifname));
    const { podMac } = await plumb({ netns: env.netns, ifname: env.ifname, hostVeth: id.hostVeth, addresses, mtu: conf.mtu });
    const wep = wepResource({
        node: id.node,
        namespace: id.namespace,
        pod: id.pod,
        containerId: env.containerId,
        endpoint: env.ifname,
        interfaceName: id.hostVeth,
        ipNetworks: addresses,
        mac: podMac,
        labels,
      }) as unknown as StoredValue;
    // First use of the store: the etcd client has been loading while IPAM ran in its own process.
    const be = await store;
    const existing = await be.get(id.wepKey);
    // A WEP of an earlier sandbox of the same pod is replaced (the pod was restarted).
    if (existing) await be.update(wep, existing.revision);
    else await be.create(wep);
    undo.push(() => be.delete(id.wepKey));
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

async function del(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: Promise<Store>): Promise<undefined> {
  const id = ident(conf, env, procEnv);
  const be = await store;
  const cur = await be.get(id.wepKey);
  let addresses: string[] = [];
  if (cur) {
    try {
      const spec = cur.value.spec as { ipNetworks?: string[]; containerID?: string } | undefined;
      addresses = spec?.ipNetworks ?? [];
      // Only the sandbox that made it removes it: a DEL for an old container must not delete the new one's.
      if (!spec?.containerID || spec.containerID === env.containerId) await be.delete(id.wepKey, cur.revision).catch(ignoreGone);
    } catch {
      await be.delete(id.wepKey, cur.revision).catch(ignoreGone);
    }
  }
  await unplumb(id.hostVeth, addresses, env.netns || undefined, env.ifname);
  await execIpam(conf, env, 'DEL', procEnv);
  return undefined;
}

function ignoreGone(e: unknown): void {
  if (e instanceof DatastoreError && (e.code === 'NotFound' || e.code === 'Conflict')) return;
  throw e;
}

async function check(conf: NetConf, env: CniEnv, procEnv: NodeJS.ProcessEnv, store: Promise<Store>): Promise<undefined> {
  if (!conf.prevResult) throw new CniError(CNI_CODES.invalidConfig, 'CHECK needs prevResult in the network config');
  const prev = decodeResult(conf.prevResult, 'prevResult');
  const id = ident(conf, env, procEnv);
  await execIpam(conf, env, 'CHECK', procEnv);
  await verify({ netns: env.netns, ifname: env.ifname, hostVeth: id.hostVeth, addresses: prev.ips.map((i) => i.address) });
  const cur = await (await store).get(id.wepKey);
  if (!cur) throw new CniError(CNI_CODES.checkFailed, `WorkloadEndpoint ${id.wepKey.namespace}/${id.wepKey.name} is missing`);
  return undefined;
}

export async function pluginMain(stdin: string, procEnv: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown> | undefined> {
  const env = parseEnv(procEnv);
  if (env.command === 'VERSION') return { cniVersion: '1.0.0', supportedVersions: SUPPORTED_VERSIONS };
  const conf = parseNetConf(stdin);
  if (env.command === 'STATUS' || env.command === 'GC') return undefined;
  const be = storeFromConf(conf, procEnv);
  try {
    if (env.command === 'ADD') return await add(conf, env, procEnv, be);
    if (env.command === 'DEL') return await del(conf, env, procEnv, be);
    return await check(conf, env, procEnv, be);
  } finally {
    await closeStore(be);
  }
}
