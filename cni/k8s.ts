// Pod labels and Calico IPAM annotations, when the config names a kubeconfig.
import { socketToError } from '../datastore/backends/kubernetes/errors.js';
import { CNI_CODES, CniError } from './errors.js';

export interface PodInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * The pod's labels and annotations. client-node's requests have no time limit of their own: an
 * apiserver that never answers is reported after `timeoutMs` (default 4 s), never a hang.
 */
export async function readPod(kubeconfig: string, namespace: string, name: string, timeoutMs = 4000): Promise<PodInfo> {
  const k8s = await import('@kubernetes/client-node');
  let server = 'the kubeconfig\'s server';
  // The apiserver named in every failure, as the datastore's own errors name it.
  const fail = (why: string): CniError => new CniError(CNI_CODES.tryAgainLater, `kubernetes.kubeconfig ${kubeconfig}: cannot read pod ${namespace}/${name}: ${why}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`kubernetes at ${server}: no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    server = kc.getCurrentCluster()?.server ?? server;
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const pod = await Promise.race([api.readNamespacedPod({ name, namespace }), timeout]);
    return { labels: pod.metadata?.labels ?? {}, annotations: pod.metadata?.annotations ?? {} };
  } catch (e) {
    if (e instanceof CniError) throw e;
    const err = e as NodeJS.ErrnoException;
    // A socket failure (no HTTP answer): said in the datastore's words ("cannot reach kubernetes at …: connection refused").
    throw fail(err.code && !/^\d+$/.test(String(err.code)) ? socketToError(server, err, timeoutMs).message : err.message);
  } finally {
    clearTimeout(timer);
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
