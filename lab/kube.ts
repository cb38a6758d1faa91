// The lab's Kubernetes datastore (`up --datastore kubernetes`): kube-apiserver in the etcd
// namespace (10.0.0.2:6443, reachable from every host on segment 0), stored in the lab's etcd, which
// nothing else uses in this mode; a throw-away PKI and an admin kubeconfig in the state dir that
// every component (tortie-node, tortie-rr, tortie-controllers, the CNI plugins, tortiectl) is given;
// Calico's CRDs applied; each lab host registered as a Kubernetes Node, as its kubelet would.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datastoreEnv } from './agents.js';
import { adminKubeconfig, apiserverPkiArgs, makeKubePki } from './pki.js';
import { controllersEnv } from './manifests.js';
import { entryCommand } from './routing.js';
import { nsExec, nsPids, signalInNs } from './sh.js';
import { stateDir, waitBudget, type LabKube, type LabPod, type LabState } from './state.js';

export const APISERVER_PORT = 6443;
/** The state dir's subdirectory with the PKI, the admin kubeconfig and the audit log. */
export const KUBE_DIR = 'kube';

/** The repository root, from lab/ (run from source) or dist/lab/ (built). */
const repoRoot = (): string => fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));

/** kube-apiserver and kubectl, built once per machine by test/k8s/build.sh (its progress on stderr). */
export function k8sBinDir(): string {
  const r = spawnSync(join(repoRoot(), 'test', 'k8s', 'build.sh'), [], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const dir = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !dir) throw new Error(`test/k8s/build.sh failed (exit ${r.status ?? r.signal}): cannot get kube-apiserver and kubectl`);
  return dir;
}

function kubeOf(s: LabState): LabKube {
  if (!s.kube) throw new Error('this lab runs on etcd (up --datastore kubernetes for a Kubernetes API)');
  return s.kube;
}

/** kubectl against the lab's apiserver, from the etcd namespace (where it listens). */
export function kubectl(s: LabState, args: string[], input?: string): Promise<string> {
  const k = kubeOf(s);
  return nsExec(s.etcdNs, [join(k.binDir, 'kubectl'), '--kubeconfig', k.kubeconfig, ...args], input);
}

/** argv for running kubectl interactively (`tortie-lab kubectl …`). */
export function kubectlArgv(s: LabState, args: string[]): string[] {
  const k = kubeOf(s);
  return ['ip', 'netns', 'exec', s.etcdNs, join(k.binDir, 'kubectl'), '--kubeconfig', k.kubeconfig, ...args];
}

/** Every request but list and watch, with its user, in kube/audit.log: who did what, for `tortie-lab` users and the tests. */
function auditArgs(dir: string): string[] {
  const policy = join(dir, 'audit-policy.yaml');
  writeFileSync(policy, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: None\n  verbs: [list, watch]\n- level: Metadata\n');
  return [`--audit-policy-file=${policy}`, `--audit-log-path=${join(dir, 'audit.log')}`, '--audit-log-maxbackup=1'];
}

/** Makes the PKI and kubeconfig and starts kube-apiserver on `ip`; resolves with what the lab records. */
export async function startApiserver(s: LabState, ip: string): Promise<{ kube: LabKube; pid: number | undefined }> {
  const binDir = k8sBinDir();
  const dir = join(stateDir(), KUBE_DIR);
  mkdirSync(dir, { recursive: true });
  const pki = await makeKubePki(dir, [ip, '127.0.0.1']);
  const server = `https://${ip}:${APISERVER_PORT}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, adminKubeconfig(server, pki, 'tortie-lab'));
  const args = [
    `--etcd-servers=${s.etcdEndpoint}`,
    `--bind-address=${ip}`,
    `--advertise-address=${ip}`,
    `--secure-port=${APISERVER_PORT}`,
    ...apiserverPkiArgs(pki, join(dir, 'certs')),
    ...auditArgs(dir),
  ];
  // Kept beside the PKI so `tortie-lab apiserver start` runs the same server again.
  writeFileSync(join(dir, 'apiserver-args.json'), `${JSON.stringify(args)}\n`);
  const kube: LabKube = { binDir, server, kubeconfig };
  return { kube, pid: spawnApiserver(s, kube, args) };
}

function spawnApiserver(s: LabState, k: LabKube, args: string[]): number | undefined {
  const log = openSync(join(stateDir(), 'kube-apiserver.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', s.etcdNs, join(k.binDir, 'kube-apiserver'), ...args], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  return child.pid;
}

/** Pids of the lab's kube-apiserver (in the etcd namespace). */
export const apiserverPids = (s: LabState): Promise<number[]> => nsPids(s.etcdNs, 'kube-apiserver');

/** `tortie-lab apiserver kill|stop`: resolves once it has exited, with how many processes were signalled. */
export function signalApiserver(s: LabState, sig: NodeJS.Signals): Promise<number> {
  kubeOf(s);
  return signalInNs(s.etcdNs, 'kube-apiserver', sig);
}

/** `tortie-lab apiserver start`: the same server again (PKI, flags, storage), once it has stopped. */
export async function restartApiserver(s: LabState): Promise<number | undefined> {
  const k = kubeOf(s);
  if ((await apiserverPids(s)).length) throw new Error('kube-apiserver is already running');
  const args = JSON.parse(readFileSync(join(stateDir(), 'kube', 'apiserver-args.json'), 'utf8')) as string[];
  return spawnApiserver(s, k, args);
}

/** running: /readyz answers ok; down: no process; unreachable: a process that is not (yet) ready. */
export async function apiserverState(s: LabState): Promise<'running' | 'down' | 'unreachable'> {
  if (!(await apiserverPids(s)).length) return 'down';
  try {
    await kubectl(s, ['get', '--raw=/readyz', '--request-timeout=2s']);
    return 'running';
  } catch {
    return 'unreachable';
  }
}

/** Until /readyz answers. */
export async function waitApiserverReady(s: LabState, timeoutMs = waitBudget(120_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await kubectl(s, ['get', '--raw=/readyz']);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after ${timeoutMs / 1000}s: ${e instanceof Error ? e.message : String(e)} (log: ${join(stateDir(), 'kube-apiserver.log')})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Until /readyz answers, then Calico's CRDs applied and served. */
export async function waitApiserver(s: LabState, timeoutMs = waitBudget(120_000)): Promise<void> {
  await waitApiserverReady(s, timeoutMs);
  await kubectl(s, ['apply', '-f', join(repoRoot(), 'manifests', 'crds')]);
  await kubectl(s, ['wait', '--for=condition=Established', 'crd', '--all', `--timeout=${Math.round(waitBudget(60_000) / 1000)}s`]);
}

/** A lab host as a Kubernetes Node, as its kubelet registers it (name, hostname label, InternalIP). */
export async function registerNode(s: LabState, name: string, ip: string, labels: Record<string, string> = {}): Promise<void> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } },
    status: { addresses: [{ type: 'InternalIP', address: ip.split('/')[0] }, { type: 'Hostname', address: name }] },
  };
  await kubectl(s, ['create', '-f', '-'], JSON.stringify(node));
}

/** A Namespace with its labels (`tortie-lab ns add`): the datastore derives Profile kns.NAME from it. */
export async function applyNamespace(s: LabState, name: string, labels: Record<string, string>): Promise<void> {
  await kubectl(s, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
}

/** tortie-controllers as a process (the node controller: a deleted Node's IPAM released) in the etcd namespace; --containers runs its image. */
export function startControllers(s: LabState): number | undefined {
  const log = openSync(join(stateDir(), 'tortie-controllers.log'), 'a');
  // tortie.yaml's environment for it (ENABLED_CONTROLLERS, LEAK_GRACE_PERIOD, ports), the lab's datastore.
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...controllersEnv(), ...datastoreEnv(s), TORTIE_HEALTH_HOST: '127.0.0.1' };
  const child = spawn('ip', ['netns', 'exec', s.etcdNs, ...entryCommand('controllers/main')], { detached: true, stdio: ['ignore', log, log], env });
  closeSync(log);
  child.unref();
  return child.pid;
}

/** The Pod for a lab pod, bound to its node as the scheduler would bind it; resolves with its uid. */
export async function createPod(s: LabState, pod: Pick<LabPod, 'name' | 'namespace' | 'node' | 'labels'>): Promise<string> {
  return (await kubectl(s, ['create', '-f', '-', '-o', 'jsonpath={.metadata.uid}'], JSON.stringify(podManifest(pod)))).trim();
}

/** A Pod bound to its node (no scheduler runs in the lab). */
export function podManifest(pod: Pick<LabPod, 'name' | 'namespace' | 'node' | 'labels'>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels },
    spec: { nodeName: pod.node, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] },
  };
}

/** What kubelet reports once the sandbox has its network: Running, the pod's and the host's addresses. */
export async function recordPodStatus(s: LabState, pod: Pick<LabPod, 'name' | 'namespace' | 'ip'>, hostIp: string): Promise<void> {
  const status = { phase: 'Running', hostIP: hostIp.split('/')[0], podIP: pod.ip, podIPs: [{ ip: pod.ip }] };
  await kubectl(s, ['patch', 'pod', pod.name, '-n', pod.namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

/** Deletes the Pod at once: no kubelet is there to confirm a graceful deletion. */
export async function deletePod(s: LabState, pod: Pick<LabPod, 'name' | 'namespace'>): Promise<void> {
  await kubectl(s, ['delete', 'pod', pod.name, '-n', pod.namespace, '--grace-period=0', '--force', '--ignore-not-found', '--wait=false']);
}
