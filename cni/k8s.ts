// Pod labels and Calico IPAM annotations, when the config names a kubeconfig.
import { CNI_CODES, CniError } from './errors.js';

export interface PodInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export async function readPod(kubeconfig: string, namespace: string, name: string): Promise<PodInfo> {
  const k8s = await import('@kubernetes/client-node');
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const pod = await api.readNamespacedPod({ name, namespace });
    return { labels: pod.metadata?.labels ?? {}, annotations: pod.metadata?.annotations ?? {} };
  } catch (e) {
    throw new CniError(CNI_CODES.tryAgainLater, `kubernetes.kubeconfig ${kubeconfig}: cannot read pod ${namespace}/${name}: ${(e as Error).message}`);
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
