// Container mode (`tortie-lab up --containers`): each host's tortie-node runs from the tortie/node
// image with podman inside that host's namespace, after install-cni from the same image has put the
// plugins and conflist in the host's own /opt/cni/bin and /etc/cni/net.d (directories in the state
// dir); reflectors run from tortie/rr; on the Kubernetes datastore tortie-controllers from
// tortie/controllers. Command, environment, mounts and security settings come from the manifests
// (tortie.yaml on the Kubernetes datastore, tortie-etcd.yaml on etcd, tortie-rr.yaml), as a kubelet
// would take them, and on the Kubernetes datastore each container gets its own ServiceAccount's
// token where a kubelet mounts it; the lab only supplies what a cluster would (the ConfigMap's
// values, the node's name and address) and what its topology sets per host (pool, encapsulation,
// the BGP socket in the state dir).
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostEnv, mtuFile } from './agents.js';
import { podMtu } from './cni.js';
import { SERVICE_ACCOUNT_MOUNT, serviceAccountDir, serviceEnv } from './kube-accounts.js';
import { KUBE_DIR } from './kube.js';
import { configMapData, mountArgs, podServiceAccount, podTemplate, resolveEnv, securityArgs, type ContainerSpec, type PodTemplate, type Volume } from './manifest-pod.js';
import { readManifest as read } from './manifests.js';
import { runtimeFlags } from './podman.js';
import { tool } from './sh.js';
import { hostCniDirs, slowHostEnv, stateDir, type LabNode, type LabState } from './state.js';

/** The install the lab runs from: the Kubernetes datastore's or etcd's. */
export const installManifest = (s: Pick<LabState, 'kube'>): string => (s.kube ? 'tortie.yaml' : 'tortie-etcd.yaml');
/** The standalone reflectors' manifest for the lab's datastore. */
export const reflectorManifest = (s: Pick<LabState, 'kube'>): string => (s.kube ? 'tortie-rr-kdd.yaml' : 'tortie-rr.yaml');

export const containerName = (s: Pick<LabState, 'prefix'>, what: string): string => `${s.prefix}${what}`;

/** tortie-config as this lab would fill it in. */
function labConfigMap(s: LabState): Record<string, Record<string, string>> {
  const data = configMapData(read(installManifest(s)), 'tortie-config');
  return {
    'tortie-config': {
      ...data,
      ...(s.kube ? {} : { etcd_endpoints: s.etcdEndpoint }),
      calico_backend: s.encap === 'vxlan' ? 'vxlan' : 'bird',
      veth_mtu: String(podMtu(s)),
    },
  };
}

/** Host paths for the manifest's volumes: the lab host's own directories, the real ones where shared. */
function volumeDir(s: LabState, n: Pick<LabNode, 'name'>): (v: Volume) => string | undefined {
  const dirs = hostCniDirs(n);
  return (v) => {
    if (v.secret) return join(stateDir(), 'secrets', v.secret.secretName); // empty: the lab's etcd is plain http
    const p = v.hostPath?.path;
    if (p === '/opt/cni/bin') return dirs.cniBin;
    if (p === '/etc/cni/net.d') return dirs.cniNet;
    if (p === '/var/run/tortie') return join(stateDir(), n.name, 'run-tortie');
    if (p === '/var/lib/calico') return dirname(mtuFile(n));
    return p; // /lib/modules, /run/xtables.lock: the machine's, as every host shares its kernel
  };
}

function mkdirs(args: string[]): void {
  for (let i = 0; i < args.length; i += 2) {
    const host = args[i + 1]?.split(':')[0] ?? '';
    if (host === '/run/xtables.lock') closeSync(openSync(host, 'a')); // a file: FileOrCreate
    else if (!existsSync(host)) mkdirSync(host, { recursive: true });
  }
}

/** What a kubelet gives every container of a pod on the Kubernetes datastore: its ServiceAccount's token and the API's address. */
interface PodIdentity {
  mounts: string[];
  env: Record<string, string>;
}

async function podIdentity(s: LabState, pod: PodTemplate, podName: string): Promise<PodIdentity> {
  const account = podServiceAccount(pod);
  if (!s.kube || !account) return { mounts: [], env: {} };
  const dir = await serviceAccountDir(s, pod.namespace, account, podName);
  return { mounts: ['-v', `${dir}:${SERVICE_ACCOUNT_MOUNT}:ro`], env: serviceEnv(s) };
}

function podmanArgs(c: ContainerSpec, pod: PodTemplate, id: PodIdentity, env: Record<string, string>, volumes: (v: Volume) => string | undefined, extra: string[]): string[] {
  const mounts = mountArgs(c, pod.volumes, volumes);
  mkdirs(mounts);
  return [
    ...runtimeFlags(),
    ...securityArgs(c, pod),
    ...extra,
    ...mounts,
    ...id.mounts,
    ...Object.entries({ ...id.env, ...env }).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    c.image,
    ...(c.command ?? []),
  ];
}

/**
 * The state dir at its own path: the BGP and CNI sockets the lab (and its tortiectl) dial live there.
 * On the Kubernetes datastore with the lab's admin credentials and the other pods' tokens hidden
 * under empty directories: a container has only its own ServiceAccount.
 */
function stateMount(s: LabState): string[] {
  const sd = stateDir();
  if (!s.kube) return ['-v', `${sd}:${sd}`];
  // An empty directory bound over them (podman's --tmpfs there does not cover the bind beneath).
  const empty = join(sd, 'empty');
  mkdirSync(empty, { recursive: true });
  return ['-v', `${sd}:${sd}`, ...[KUBE_DIR, 'serviceaccounts'].flatMap((d) => ['-v', `${empty}:${join(sd, d)}:ro`])];
}

const CONTROLLERS = ['tortie.yaml', 'Deployment', 'tortie-kube-controllers'] as const;

/** Fails with what to do when an image the manifests name has not been built here. */
export async function requireImages(s: LabState): Promise<void> {
  const wanted = [[installManifest(s), 'DaemonSet', 'tortie-node'], ['tortie-rr.yaml', 'DaemonSet', 'tortie-rr'], ...(s.kube ? [CONTROLLERS] : [])] as const;
  for (const [file, kind, name] of wanted) {
    const image = podTemplate(read(file), kind, name).containers[0]?.image ?? '';
    const present = await tool('podman', ['image', 'exists', image]).then(() => true, () => false);
    if (!present) throw new Error(`image ${image} (manifests/${file}) is not here: run \`make images\` first`);
  }
}

/** install-cni, then tortie-node, from the image, in the host's namespace. */
export async function startNodeContainer(s: LabState, n: LabNode): Promise<void> {
  const file = installManifest(s);
  const pod = podTemplate(read(file), 'DaemonSet', 'tortie-node');
  const fields = { 'spec.nodeName': n.name, 'status.hostIP': n.ip.split('/')[0] ?? '' };
  const cms = labConfigMap(s);
  const net = ['--network', `ns:/run/netns/${n.ns}`];
  const id = await podIdentity(s, pod, `${n.name}-tortie-node`);
  for (const init of pod.initContainers) {
    await tool('podman', ['run', '--rm', '--name', containerName(s, `${n.name}-${init.name}`), ...podmanArgs(init, pod, id, resolveEnv(init, cms, fields), volumeDir(s, n), net)]);
  }
  const main = pod.containers[0];
  if (!main) throw new Error(`manifests/${file}: tortie-node has no container`);
  // The manifest's environment, then what this lab sets per host (address, pool, encapsulation, sockets).
  const env = { ...resolveEnv(main, cms, fields), ...(s.kube ? {} : slowHostEnv()), ...hostEnv(s, n) };
  await tool('podman', ['run', '-d', '--name', containerName(s, n.name), ...podmanArgs(main, pod, id, env, volumeDir(s, n), [...net, ...stateMount(s)])]);
}

/** tortie-controllers from its image, as tortie.yaml's Deployment runs it, in the apiserver's namespace (the lab's control-plane host). */
export async function startControllersContainer(s: LabState): Promise<void> {
  const [file, kind, name] = CONTROLLERS;
  const pod = podTemplate(read(file), kind, name);
  const main = pod.containers[0];
  if (!main) throw new Error(`manifests/${file}: ${name} has no container`);
  const id = await podIdentity(s, pod, 'controllers');
  const env = resolveEnv(main, labConfigMap(s), {});
  await tool('podman', ['run', '-d', '--name', containerName(s, 'controllers'), ...podmanArgs(main, pod, id, env, () => undefined, ['--network', `ns:/run/netns/${s.etcdNs}`])]);
}

/** tortie-rr from its image with its manifest's environment (tortie-rr.yaml, tortie-rr-kdd.yaml). */
export async function startReflectorContainer(s: LabState, k: number, ns: string, ip: string, extraEnv: Record<string, string>): Promise<void> {
  const file = reflectorManifest(s);
  const pod = podTemplate(read(file), 'DaemonSet', 'tortie-rr');
  const main = pod.containers[0];
  if (!main) throw new Error(`manifests/${file}: tortie-rr has no container`);
  const env = { ...resolveEnv(main, labConfigMap(s), { 'spec.nodeName': `rr${k}`, 'status.hostIP': ip }), ...extraEnv };
  const id = await podIdentity(s, pod, `rr${k}`);
  await tool('podman', ['run', '-d', '--name', containerName(s, `rr${k}`), ...podmanArgs(main, pod, id, env, volumeDir(s, { name: `rr${k}` }), ['--network', `ns:/run/netns/${ns}`, ...stateMount(s)])]);
}

/** Removes the host's tortie-node container (its host is going away). */
export async function removeNodeContainer(s: LabState, n: LabNode): Promise<void> {
  await tool('podman', ['rm', '-f', '-t', '2', containerName(s, n.name)]).catch(() => undefined);
}

/** SIGKILL / SIGTERM the host's tortie-node container (its dataplane stays, as with a process). */
export async function signalNodeContainer(s: LabState, n: LabNode, sig: NodeJS.Signals): Promise<number> {
  return tool('podman', ['kill', '--signal', sig, containerName(s, n.name)]).then(
    () => 1,
    () => 0,
  );
}

/** Starts the host's stopped tortie-node container again (the init container ran at `up`). */
export async function restartNodeContainer(s: LabState, n: LabNode): Promise<void> {
  await tool('podman', ['start', containerName(s, n.name)]);
}

/** Removes every container of the lab (by name prefix: also after a crash). */
export async function removeContainers(prefix: string): Promise<number> {
  const out = await tool('podman', ['ps', '-a', '--format', '{{.Names}}']).catch(() => '');
  const names = out.split('\n').filter((x) => x.startsWith(prefix));
  for (const name of names) await tool('podman', ['rm', '-f', '-t', '2', name]).catch(() => undefined);
  return names.length;
}
