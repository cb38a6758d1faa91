// Container mode (`tortie-lab up --containers`): each host's tortie-node runs from the tortie/node
// image with podman inside that host's namespace, after install-cni from the same image has put the
// plugins and conflist in the host's own /opt/cni/bin and /etc/cni/net.d (directories in the state
// dir); reflectors run from tortie/rr. Command, environment and mounts come from
// manifests/tortie-etcd.yaml and manifests/tortie-rr.yaml, as a kubelet would take them; the lab
// only supplies what a cluster would (the ConfigMap's values, the node's name and address) and
// what its topology sets per host (pool, encapsulation, the BGP socket in the state dir).
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mtuFile, nodeEnv } from './agents.js';
import { podMtu } from './cni.js';
import { configMapData, mountArgs, podTemplate, resolveEnv, type ContainerSpec, type PodTemplate, type Volume } from './manifest-pod.js';
import { readManifest as read } from './manifests.js';
import { runtimeFlags } from './podman.js';
import { tool } from './sh.js';
import { hostCniDirs, stateDir, type LabNode, type LabState } from './state.js';

export const containerName = (s: Pick<LabState, 'prefix'>, what: string): string => `${s.prefix}${what}`;

/** tortie-config as this lab would fill it in. */
function labConfigMap(s: LabState): Record<string, Record<string, string>> {
  const data = configMapData(read('tortie-etcd.yaml'), 'tortie-config');
  return {
    'tortie-config': {
      ...data,
      etcd_endpoints: s.etcdEndpoint,
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

function podmanArgs(c: ContainerSpec, pod: PodTemplate, env: Record<string, string>, volumes: (v: Volume) => string | undefined, extra: string[]): string[] {
  const mounts = mountArgs(c, pod.volumes, volumes);
  mkdirs(mounts);
  return [
    ...runtimeFlags(),
    '--privileged',
    ...extra,
    ...mounts,
    // The state dir at its own path: the BGP socket the lab's tortiectl reads lives there.
    '-v', `${stateDir()}:${stateDir()}`,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    c.image,
    ...(c.command ?? []),
  ];
}

/** Fails with what to do when an image the manifests name has not been built here. */
export async function requireImages(): Promise<void> {
  for (const [file, kind, name] of [['tortie-etcd.yaml', 'DaemonSet', 'tortie-node'], ['tortie-rr.yaml', 'DaemonSet', 'tortie-rr']] as const) {
    const image = podTemplate(read(file), kind, name).containers[0]?.image ?? '';
    const present = await tool('podman', ['image', 'exists', image]).then(() => true, () => false);
    if (!present) throw new Error(`image ${image} (manifests/${file}) is not here: run \`make images\` first`);
  }
}

/** install-cni, then tortie-node, from the image, in the host's namespace. */
export async function startNodeContainer(s: LabState, n: LabNode): Promise<void> {
  const pod = podTemplate(read('tortie-etcd.yaml'), 'DaemonSet', 'tortie-node');
  const fields = { 'spec.nodeName': n.name, 'status.hostIP': n.ip.split('/')[0] ?? '' };
  const cms = labConfigMap(s);
  const net = ['--network', `ns:/run/netns/${n.ns}`];
  for (const init of pod.initContainers) {
    await tool('podman', ['run', '--rm', '--name', containerName(s, `${n.name}-${init.name}`), ...podmanArgs(init, pod, resolveEnv(init, cms, fields), volumeDir(s, n), net)]);
  }
  const main = pod.containers[0];
  if (!main) throw new Error('manifests/tortie-etcd.yaml: tortie-node has no container');
  // The manifest's environment, then what this lab sets per host (address, pool, encapsulation, socket).
  const env = { ...resolveEnv(main, cms, fields), ...nodeEnv(s, n) };
  await tool('podman', ['run', '-d', '--name', containerName(s, n.name), ...podmanArgs(main, pod, env, volumeDir(s, n), net)]);
}

/** tortie-rr from its image with manifests/tortie-rr.yaml's environment. */
export async function startReflectorContainer(s: LabState, k: number, ns: string, ip: string, extraEnv: Record<string, string>): Promise<void> {
  const pod = podTemplate(read('tortie-rr.yaml'), 'DaemonSet', 'tortie-rr');
  const main = pod.containers[0];
  if (!main) throw new Error('manifests/tortie-rr.yaml: tortie-rr has no container');
  const env = { ...resolveEnv(main, labConfigMap(s), { 'spec.nodeName': `rr${k}`, 'status.hostIP': ip }), ...extraEnv };
  await tool('podman', ['run', '-d', '--name', containerName(s, `rr${k}`), ...podmanArgs(main, pod, env, volumeDir(s, { name: `rr${k}` }), ['--network', `ns:/run/netns/${ns}`])]);
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
