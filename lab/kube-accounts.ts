// Container mode on the Kubernetes datastore: the install applied as a user applies it
// (`kubectl apply --server-side -f manifests/tortie.yaml`: CRDs, ServiceAccounts, ClusterRoles and
// bindings, ConfigMap, DaemonSet, Deployment), and for each container the lab runs in a kubelet's
// place, its ServiceAccount's token where a kubelet mounts it — so every component talks to the
// apiserver as itself, never as the lab's admin.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kubectl } from './kube.js';
import { manifestPath } from './manifests.js';
import { stateDir, type LabState } from './state.js';

/** Where a kubelet mounts the pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `kubectl apply --server-side -f manifests/FILE` against the lab's apiserver, as its admin. */
export async function applyManifest(s: LabState, file: string): Promise<void> {
  await kubectl(s, ['apply', '--server-side', '-f', manifestPath(file)]);
}

/** The cluster CA the lab's admin kubeconfig names: what a pod's ca.crt holds. */
function clusterCa(s: LabState): string {
  const kc = parse(readFileSync(s.kube?.kubeconfig ?? '', 'utf8')) as { clusters?: { cluster?: { 'certificate-authority'?: string } }[] };
  const file = kc.clusters?.[0]?.cluster?.['certificate-authority'];
  if (!file) throw new Error(`${s.kube?.kubeconfig}: no certificate-authority to give pods as ca.crt`);
  return readFileSync(file, 'utf8');
}

/**
 * A token for `account` in `namespace` (TokenRequest, as the kubelet asks for a pod's), with the CA
 * and namespace, in a directory of the state dir named after the pod: mount it at
 * SERVICE_ACCOUNT_MOUNT. Readable by any user, as the kubelet makes it for a non-root container.
 */
export async function serviceAccountDir(s: LabState, namespace: string, account: string, pod: string): Promise<string> {
  const dir = join(stateDir(), 'serviceaccounts', pod);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const token = (await kubectl(s, ['create', 'token', account, '-n', namespace, '--duration=24h'])).trim();
  if (!token) throw new Error(`kubectl create token ${account} -n ${namespace} gave no token`);
  for (const [name, data] of [['token', token], ['ca.crt', clusterCa(s)], ['namespace', namespace]] as const) writeFileSync(join(dir, name), data, { mode: 0o644 });
  return dir;
}

/** KUBERNETES_SERVICE_HOST and _PORT as the kubelet sets them in every container: the lab's apiserver. */
export function serviceEnv(s: LabState): Record<string, string> {
  const url = new URL(s.kube?.server ?? '');
  return { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port || '443' };
}
