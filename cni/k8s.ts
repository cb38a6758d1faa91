// Pod labels and Calico IPAM annotations, when the config names a kubeconfig.
import { statSync } from 'node:fs';
import type { KubeApi, KubeObject } from '../datastore/backends/kubernetes/driver.js';
import { socketToError } from '../datastore/backends/kubernetes/errors.js';
import { DatastoreError } from '../datastore/errors.js';
import { untilDeadline } from '../datastore/retry.js';
import { CNI_CODES, CniError } from './errors.js';

export interface PodInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * One kept-alive client per kubeconfig file: tortie-node reads a pod for every ADD, and a new
 * client per read (client-node's) cost a TLS handshake each time: 9–11 ms and 7–8 ms of CPU per
 * read on loopback, against 2–4 ms and about 1 ms kept alive. A rewritten file (install-cni
 * refreshing the token) gets a new client.
 */
const clients = new Map<string, { api: KubeApi; stamp: string }>();

async function clientFor(kubeconfig: string): Promise<KubeApi> {
  let st;
  try {
    st = statSync(kubeconfig);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DatastoreError('Unavailable', `kubeconfig ${kubeconfig}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  const had = clients.get(kubeconfig);
  if (had?.stamp === stamp) return had.api;
  // Loaded on first use: the plugin on etcd or through its agent never needs the Kubernetes client.
  const { KubeApi, loadKubeConfig } = await import('../datastore/backends/kubernetes/driver.js');
  // Reads still in flight on the old connection finish first (an ADD's budget is seconds).
  if (had) setTimeout(() => had.api.close(), 60_000).unref();
  // The caller's own deadline answers first; this only bounds a request left behind.
  const api = new KubeApi(loadKubeConfig(kubeconfig), { timeoutMs: 30_000 });
  clients.set(kubeconfig, { api, stamp });
  return api;
}

/**
 * The pod's labels and annotations. An apiserver that cannot be reached (refused, lost, or slower
 * than one request's budget, as on a machine where 100 plugins start at once) is asked again until
 * `timeoutMs` (default 4 s) has passed, as the plugin's datastore calls are; then the last reason
 * is reported, never a hang. An answer (a missing pod, a refusal) is final.
 */
export async function readPod(kubeconfig: string, namespace: string, name: string, timeoutMs = 4000): Promise<PodInfo> {
  // The apiserver named in every failure, as the datastore's own errors name it.
  const fail = (why: string): CniError => new CniError(CNI_CODES.tryAgainLater, `kubernetes.kubeconfig ${kubeconfig}: cannot read pod ${namespace}/${name}: ${why}`);
  const deadline = Date.now() + timeoutMs;
  let api: KubeApi;
  try {
    api = await clientFor(kubeconfig);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const server = api.server;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
  // The driver's own words: an HTTP status ("… not found") or a socket failure ("cannot reach kubernetes at …").
  const reason = (e: unknown): string => {
    const err = e as NodeJS.ErrnoException;
    return e instanceof DatastoreError ? e.message : err.code ? socketToError(server, err, timeoutMs).message : err.message;
  };
  // An unavailable apiserver (no answer within one call's budget, a refused connection) is asked
  // again until the deadline, which then reports the last reason.
  let unreachable: string | undefined;
  const attempt = async (): Promise<PodInfo> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), Math.max(deadline - Date.now(), 1));
      timer.unref();
    });
    try {
      const pod = await Promise.race([api.call<KubeObject>('GET', path, `pod ${namespace}/${name}`), timeout]);
      if (pod === 'deadline') throw fail(unreachable ?? `kubernetes at ${server}: no answer within ${timeoutMs} ms`);
      return { labels: pod.metadata.labels ?? {}, annotations: pod.metadata.annotations ?? {} };
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    return await untilDeadline(deadline, attempt, (e) => (unreachable = e.message));
  } catch (e) {
    throw e instanceof CniError ? e : fail(reason(e));
  }
}

/** A JSON list annotation such as cni.projectcalico.org/ipv4pools: '["pool-a"]'. */
export function listAnnotation(annotations: Record<string, string>, key: string): string[] | undefined {
  const v = annotations[key];
  if (v === undefined) return undefined;
  try {
    const parsed = JSON.parse(v) as unknown;
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
  } catch {
    /* reported below */
  }
  throw new CniError(CNI_CODES.invalidConfig, `pod annotation ${key} must be a JSON list of strings, got ${v}`);
}
