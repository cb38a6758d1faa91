// Builds and removes the lab: a fabric namespace with one bridge per segment, an optional router
// between segments, etcd in its own namespace, host namespaces, pod namespaces and attached ones.
import { rmSync } from 'node:fs';
import { caliName, hostIp, hostIp6, nodeBlock, podIp, POOL_CIDR, routerIp, routerIp6, segmentCidr6, vtepMac } from './addressing.js';
import { datastoreEnv, signalAgent, startNodeAgent, waitEtcd, waitReady, writeNamespaceProfile } from './agents.js';
import { installManifest, removeContainers, removeNodeContainer, requireImages, startControllersContainer, startNodeContainer } from './containers.js';
import { applyManifest } from './kube-accounts.js';
import { clientUrl, etcdMembers, startMember, waitEtcdLeader } from './etcd.js';
import { cniAdd, cniDel, newContainerId, writeNetConfs } from './cni.js';
import { applyNamespace, createPod, deletePod, kubectl, recordPodStatus, registerNode, startApiserver, startControllers, waitApiserver } from './kube.js';
import { pingMatrix } from './ping.js';
import { entryCommand, programAll, programNode } from './routing.js';
import { addNs, delNs, killNsProcesses, listNamespaces, nsExec, sysctl, vethBetween } from './sh.js';
import { families, loadState, nsPrefix, saveState, stateDir, waitBudget, type Encap, type IpFamilies, type LabNode, type LabPod, type LabState } from './state.js';

export interface UpOptions {
  nodes: number;
  /** etcd members: 1, or a cluster of 3 or 5, each in its own namespace. */
  etcd?: number;
  subnets: 1 | 2;
  encap: Encap;
  crossSubnet: boolean;
  natOutgoing: boolean;
  podsPerNode: number;
  mode: 'agent' | 'static';
  /** tortie-node and tortie-rr from the images, with podman (agent mode). */
  containers?: boolean;
  /** The fabric's MTU (`up --mtu`): every host, router and etcd link, and the bridges. Default 1500. */
  mtu?: number;
  /** The datastore every component uses: the lab's etcd (default) or a kube-apiserver stored in it. */
  datastore?: 'etcdv3' | 'kubernetes';
  /** Pod address families (default ipv4); with IPv6 the fabric has ULA addresses too. */
  ipFamilies?: IpFamilies;
  log: (line: string) => void;
}

const bridge = (k: number): string => `br${k}`;

/** Puts a namespace on segment k with address `cidr` (and `cidr6`, if given) as interface eth0. */
async function plugIntoSegment(s: LabState, ns: string, cidr: string, k: number, fabricIf: string, cidr6?: string): Promise<void> {
  await vethBetween(ns, 'eth0', s.fabricNs, fabricIf, s.fabricMtu);
  await nsExec(s.fabricNs, ['ip', 'link', 'set', fabricIf, 'master', bridge(k), 'up']);
  await nsExec(ns, ['ip', 'addr', 'add', cidr, 'dev', 'eth0']);
  await nsExec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
  if (s.routerNs) await nsExec(ns, ['ip', 'route', 'add', 'default', 'via', routerIp(k)]);
  if (cidr6) await addAddress6(s, ns, cidr6, k);
}

/** An IPv6 address on eth0 (nodad: the plan has no duplicates, and a tentative address cannot be bound) and the default route. */
async function addAddress6(s: LabState, ns: string, cidr6: string, k: number): Promise<void> {
  await nsExec(ns, ['ip', '-6', 'addr', 'add', cidr6, 'dev', 'eth0', 'nodad']);
  if (s.routerNs) await nsExec(ns, ['ip', '-6', 'route', 'add', 'default', 'via', routerIp6(k)]);
}

export async function up(o: UpOptions): Promise<LabState> {
  if (loadState()) throw new Error('a lab is already up; run `tortie-lab down` first');
  const p = nsPrefix();
  const s: LabState = {
    prefix: p,
    mode: o.mode,
    ...(o.containers ? { containers: true } : {}),
    ...(o.mtu ? { fabricMtu: o.mtu } : {}),
    encap: o.encap,
    crossSubnet: o.crossSubnet,
    natOutgoing: o.natOutgoing,
    subnets: o.subnets,
    poolCidr: POOL_CIDR,
    ...(o.ipFamilies && o.ipFamilies !== 'ipv4' ? { ipFamilies: o.ipFamilies } : {}),
    fabricNs: `${p}fabric`,
    etcdNs: '',
    etcdEndpoint: '',
    pids: [],
    nodes: [],
    pods: [],
    attached: [],
    namespaces: { default: {} },
  };
  saveState(s); // recorded first, so a failed `up` is still cleaned by `down`
  const t0 = Date.now();
  const v6 = families(s).includes(6);
  const step = (msg: string): void => o.log(`==> ${msg}  (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  await addNs(s.fabricNs);
  for (let k = 0; k < o.subnets; k++) {
    await nsExec(s.fabricNs, ['ip', 'link', 'add', bridge(k), ...(s.fabricMtu ? ['mtu', String(s.fabricMtu)] : []), 'type', 'bridge']);
    await nsExec(s.fabricNs, ['ip', 'link', 'set', bridge(k), 'up']);
  }
  // A router on every segment: it joins two segments, and with one it is still each host's
  // default gateway (proxy ARP for 169.254.1.1 only answers when the host has a route for it).
  s.routerNs = `${p}router`;
  saveState(s);
  await addNs(s.routerNs);
  for (let k = 0; k < o.subnets; k++) {
    await vethBetween(s.routerNs, `eth${k}`, s.fabricNs, `r${k}`, s.fabricMtu);
    await nsExec(s.fabricNs, ['ip', 'link', 'set', `r${k}`, 'master', bridge(k), 'up']);
    await nsExec(s.routerNs, ['ip', 'addr', 'add', `${routerIp(k)}/24`, 'dev', `eth${k}`]);
    if (v6) await nsExec(s.routerNs, ['ip', '-6', 'addr', 'add', `${routerIp6(k)}/64`, 'dev', `eth${k}`, 'nodad']);
    await nsExec(s.routerNs, ['ip', 'link', 'set', `eth${k}`, 'up']);
  }
  await sysctl(s.routerNs, 'net.ipv4.ip_forward', '1');
  if (v6) await sysctl(s.routerNs, 'net.ipv6.conf.all.forwarding', '1');
  step(o.subnets === 2 ? 'fabric: segments 10.0.0.0/24 and 10.0.1.0/24, router 10.0.0.1 / 10.0.1.1 between them' : 'fabric: segment 10.0.0.0/24, gateway router 10.0.0.1');
  if (v6) step(`fabric IPv6: ${Array.from({ length: o.subnets }, (_, k) => `${segmentCidr6(k)} (router ${routerIp6(k)})`).join(', ')}`);
  const members = etcdMembers(p, o.etcd ?? 1);
  s.etcdMembers = members;
  s.etcdNs = members[0]?.ns ?? '';
  s.etcdEndpoint = members.map(clientUrl).join(',');
  saveState(s);
  for (const [i, m] of members.entries()) {
    await addNs(m.ns);
    await plugIntoSegment(s, m.ns, `${m.ip}/24`, 0, members.length === 1 ? 'etcd' : `etcd${i + 1}`);
  }
  for (const m of members) {
    const pid = startMember(s, m);
    if (pid) s.pids.push(pid);
  }
  saveState(s);
  if (members.length > 1) step(`etcd cluster of ${members.length} (${members.map((m) => m.name).join(', ')}), leader ${await waitEtcdLeader(s, waitBudget(30_000))}`);
  step(`etcd at ${s.etcdEndpoint}`);
  if (o.datastore === 'kubernetes') {
    const { kube, pid } = await startApiserver(s, members[0]?.ip ?? '');
    s.kube = kube;
    if (pid) s.pids.push(pid);
    saveState(s);
    await waitApiserver(s);
    step(`kube-apiserver at ${kube.server} (stored in etcd), Calico's CRDs applied; kubeconfig ${kube.kubeconfig}`);
  }
  for (let i = 1; i <= o.nodes; i++) {
    const subnet = o.subnets === 2 && i > Math.ceil(o.nodes / 2) ? 1 : 0;
    const node: LabNode = { name: `node${i}`, ns: `${p}node${i}`, ip: hostIp(i, subnet), ...(v6 ? { ip6: hostIp6(i, subnet) } : {}), subnet, block: nodeBlock(i), vtepMac: vtepMac(`node${i}`) };
    await addNs(node.ns);
    s.nodes.push(node);
    saveState(s);
    await plugIntoSegment(s, node.ns, node.ip, subnet, `h${i}`, node.ip6);
  }
  step(`hosts: ${s.nodes.map((n) => `${n.name} ${[n.ip, n.ip6].filter(Boolean).map((a) => a?.split('/')[0]).join(' ')}`).join(', ')}`);
  if (s.mode === 'agent') {
    await waitEtcd(s);
    // Every namespace has its Profile (Calico's kns.<name>): policy needs it to allow by default.
    // On the Kubernetes datastore it is derived from the Namespace, and each host is a Node first, as its kubelet registers it.
    if (s.containers) await requireImages(s);
    if (s.kube) {
      for (const node of s.nodes) await registerNode(s, node.name, node.ip);
      if (s.containers) {
        // The install as a user applies it; then the lab plays kubelet for its DaemonSet and Deployment.
        await applyManifest(s, installManifest(s));
        await startControllersContainer(s);
      } else {
        const pid = startControllers(s);
        if (pid) s.pids.push(pid);
      }
      step(`${s.nodes.length} Kubernetes Nodes registered; ${s.containers ? `manifests/${installManifest(s)} applied, tortie-controllers started from its image` : 'tortie-controllers started'}`);
    } else await writeNamespaceProfile(s, 'default', {});
    for (const node of s.nodes) {
      if (s.containers) {
        await startNodeContainer(s, node);
        continue;
      }
      const pid = startNodeAgent(s, node);
      if (pid) s.pids.push(pid);
    }
    saveState(s);
    step(`tortie-node started${s.containers ? ' from the image (install-cni first)' : ''} on ${s.nodes.length} hosts (${o.encap === 'vxlan' ? 'VXLAN' : 'BGP full mesh'}${o.encap === 'ipip' ? ', IPIP' : ''}${o.crossSubnet ? ' CrossSubnet' : ''}); waiting until each is ready (in sync, BGP sessions up)`);
    await waitReady(s, (l) => step(l.replace(/^==> /, '')));
    writeNetConfs(s);
  }
  // Hosts in parallel (each claims its own block), a host's pods one after another.
  if (o.podsPerNode) {
    await Promise.all(s.nodes.map(async (node) => {
      for (let k = 1; k <= o.podsPerNode; k++) await addPod(s, { name: `pod-${node.name}-${k}`, namespace: 'default', node: node.name, labels: {} }, false);
    }));
    const order = (p: LabPod): number => s.nodes.findIndex((n) => n.name === p.node);
    s.pods.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name, 'en', { numeric: true }));
  }
  if (o.podsPerNode) step(`${s.pods.length} pods made through the CNI plugin (${o.podsPerNode} per host)`);
  if (s.mode === 'agent' && s.pods.length > 1) {
    // Routes arrive over BGP / the datastore asynchronously: wait until every pod reaches every other.
    const budget = waitBudget(60_000);
    const deadline = Date.now() + budget;
    let converged = false;
    for (;;) {
      const res = (await Promise.all(families(s).map((f) => pingMatrix(s.pods, f)))).flat();
      if ((converged = res.every((r) => r.ok))) break;
      if (Date.now() > deadline) {
        step(`not converged after ${budget / 1000}s: ${res.filter((r) => !r.ok).length} of ${res.length} pod pairs unreachable (tortie-lab ping shows which)`);
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (converged) step('routes converged: every pod reaches every other');
  }
  if (s.mode === 'static') {
    step(`programming routes (encap ${o.encap}${o.crossSubnet ? ', CrossSubnet' : ''})`);
    await programAll(s);
  }
  saveState(s);
  return s;
}

export interface PodSpec {
  name: string;
  namespace: string;
  node?: string;
  labels: Record<string, string>;
}

/** When the CNI ADD itself ran (performance.now() ms), apart from the kubelet's part around it. */
export type CniTimes = (startMs: number, endMs: number) => void;

/** Creates a pod Calico-style: caliXXXX on the host, eth0 in the pod with default via 169.254.1.1. */
export async function addPod(s: LabState, spec: PodSpec, program = true, cniTimes?: CniTimes): Promise<LabPod> {
  if (s.pods.some((x) => x.name === spec.name && x.namespace === spec.namespace)) throw new Error(`pod ${spec.namespace}/${spec.name} already exists`);
  const node = spec.node ? s.nodes.find((n) => n.name === spec.node) : [...s.nodes].sort((a, b) => count(s, a) - count(s, b))[0];
  if (!node) throw new Error(spec.node ? `no node named ${spec.node}` : 'the lab has no nodes');
  const idx = s.pods.length;
  const pod: LabPod = { name: spec.name, namespace: spec.namespace, node: node.name, ns: `${s.prefix}p${idx}-${spec.name}`.slice(0, 60), ip: '', iface: '', labels: spec.labels };
  s.pods.push(pod); // recorded before anything is made, so `down` finds it after a failure
  saveState(s);
  await addNs(pod.ns);
  if (s.mode === 'agent') {
    // As a kubelet would: the Pod bound to its node, the runtime made the sandbox's netns, the CNI
    // plugin does the rest, and the pod's addresses are reported in its status.
    if (s.kube) pod.uid = await createPod(s, pod);
    pod.containerId = newContainerId();
    saveState(s);
    const cniStart = performance.now();
    const r = await cniAdd(s, node, pod as LabPod & { containerId: string });
    cniTimes?.(cniStart, performance.now());
    pod.ip = r.ip;
    if (r.ip6) pod.ip6 = r.ip6;
    pod.iface = r.iface;
    saveState(s);
    if (s.kube) await recordPodStatus(s, pod, node.ip);
    return pod;
  }
  pod.iface = caliName(`${node.name}/${spec.namespace}/${spec.name}`);
  await vethBetween(node.ns, pod.iface, pod.ns, 'eth0');
  const ip = podIp(node.block, new Set(s.pods.map((x) => x.ip)));
  if (!ip) throw new Error(`block ${node.block} of ${node.name} is full`);
  pod.ip = ip;
  saveState(s);
  await nsExec(node.ns, ['ip', 'link', 'set', pod.iface, 'up']);
  await nsExec(pod.ns, ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
  await nsExec(pod.ns, ['ip', 'link', 'set', 'eth0', 'up']);
  await nsExec(pod.ns, ['ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
  await nsExec(pod.ns, ['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
  if (program) {
    await programNode(s, node);
    saveState(s);
  }
  return pod;
}

function count(s: LabState, n: LabNode): number {
  return s.pods.filter((p) => p.node === n.name).length;
}

export async function delPod(s: LabState, name: string, namespace: string): Promise<void> {
  const pod = s.pods.find((x) => x.name === name && x.namespace === namespace);
  if (!pod) throw new Error(`no pod ${namespace}/${name}`);
  const host = s.nodes.find((n) => n.name === pod.node);
  if (s.mode === 'agent' && host && pod.containerId) await cniDel(s, host, { ...pod, containerId: pod.containerId });
  if (s.kube) await deletePod(s, pod);
  await delNs(pod.ns); // the host-side veth goes with it
  s.pods = s.pods.filter((x) => x !== pod);
  saveState(s);
  const node = s.nodes.find((n) => n.name === pod.node);
  if (node) await programNode(s, node);
}

/**
 * Removes a host as a cluster operator would: its pods drained through CNI DEL, tortie-node
 * stopped, the node decommissioned in the datastore (tunnel addresses, block affinities, Node
 * resource — so every peer drops it from the mesh and its routes), then its namespace.
 */
export async function delNode(s: LabState, name: string): Promise<void> {
  const node = s.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node named ${name}`);
  if (s.kube) return delKubeNode(s, node);
  for (const pod of s.pods.filter((p) => p.node === name)) await delPod(s, pod.name, pod.namespace);
  if (s.mode === 'agent') {
    await signalAgent(node, 'SIGKILL');
    await nsExec(node.ns, ['env', ...Object.entries(datastoreEnv(s)).map(([k, v]) => `${k}=${v}`), ...entryCommand('lab/ds-shim'), 'node-del', name]);
  }
  await delNs(node.ns);
  s.nodes = s.nodes.filter((n) => n !== node);
  saveState(s);
  await programAll(s);
}

/**
 * The Kubernetes way: the host goes away with its pods still on it (no CNI DEL), its Pods are
 * removed as the pod garbage collector removes a lost node's pods, `kubectl delete node` — and
 * tortie-controllers releases the node's IPAM (addresses, tunnel addresses, block affinities).
 */
async function delKubeNode(s: LabState, node: LabNode): Promise<void> {
  if (s.containers) await removeNodeContainer(s, node);
  else await signalAgent(node, 'SIGKILL');
  for (const pod of s.pods.filter((p) => p.node === node.name)) {
    await deletePod(s, pod);
    await delNs(pod.ns);
    s.pods = s.pods.filter((x) => x !== pod);
    saveState(s);
  }
  await kubectl(s, ['delete', 'node', node.name, '--ignore-not-found']);
  await delNs(node.ns);
  s.nodes = s.nodes.filter((n) => n !== node);
  saveState(s);
}

/** A namespace for pods: on the Kubernetes datastore a Namespace (its Profile derived), else the Profile written. */
export async function addNamespace(s: LabState, name: string, labels: Record<string, string>): Promise<void> {
  if (s.kube) await applyNamespace(s, name, labels);
  else if (s.mode === 'agent') await writeNamespaceProfile(s, name, labels);
  s.namespaces[name] = labels;
  saveState(s);
}

export async function attach(s: LabState, name: string, cidr: string, subnet: number, cidr6?: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]{0,20}$/.test(name)) throw new Error(`attach: name "${name}" must be lower-case letters, digits and dashes (≤ 21)`);
  if (subnet < 0 || subnet >= s.subnets) throw new Error(`attach: --subnet must be 0..${s.subnets - 1}`);
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) throw new Error(`attach: --ip must be ADDR/LEN, got "${cidr}"`);
  const ns = `${s.prefix}x-${name}`;
  await addNs(ns);
  s.attached.push({ name, ns, ip: cidr, subnet });
  saveState(s);
  await plugIntoSegment(s, ns, cidr, subnet, `x${s.attached.length}`, cidr6);
  return ns;
}

/** Removes everything the lab made, by record and by name prefix (a crashed run leaves no record). */
export async function down(log: (l: string) => void): Promise<void> {
  const s = loadState();
  const prefix = s?.prefix ?? nsPrefix();
  const containers = await removeContainers(prefix);
  for (const pid of s?.pids ?? []) {
    try {
      process.kill(-pid, 'SIGKILL'); // detached: the pid is its own process group
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  const names = (await listNamespaces()).filter((n) => n.startsWith(prefix));
  for (const ns of names) await killNsProcesses(ns);
  for (const ns of names) await delNs(ns);
  rmSync(stateDir(), { recursive: true, force: true });
  log(`removed ${names.length} namespaces${containers ? `, ${containers} containers` : ''} and ${stateDir()}`);
}

export async function reprogram(s: LabState): Promise<void> {
  await programAll(s);
}
