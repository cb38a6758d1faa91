// BGP passwords as Calico reads them: a BGPPeer's `password.secretKeyRef` (and BGPConfiguration's
// `nodeMeshPassword`) names a key of a Kubernetes Secret in calico-node's own namespace (env
// NAMESPACE, default kube-system), read through the Kubernetes API from KUBECONFIG or the in-cluster
// service account — in etcd mode too, as calico-node does: the Secret always lives in Kubernetes.
// Without a Kubernetes API the password cannot be read: the peer runs without one, and a note says so.
import type { ComputedPeer, SecretKeyRef } from './types.js';

export interface SecretReader {
  /** Where secrets are read from, for messages ("Kubernetes namespace kube-system"). */
  readonly where: string;
  /** The key's value; undefined when the Secret or the key does not exist. Throws when the API fails. */
  read(ref: SecretKeyRef): Promise<string | undefined>;
}

/** A reader for the Kubernetes API named by the environment, or undefined when there is none. */
export function kubeSecretReader(env: NodeJS.ProcessEnv = process.env): SecretReader | undefined {
  const kubeconfig = env.KUBECONFIG;
  const inCluster = !!env.KUBERNETES_SERVICE_HOST;
  if (!kubeconfig && !inCluster) return undefined;
  const namespace = env.NAMESPACE || 'kube-system';
  let api: Promise<import('@kubernetes/client-node').CoreV1Api> | undefined;
  const client = (): Promise<import('@kubernetes/client-node').CoreV1Api> =>
    (api ??= import('@kubernetes/client-node').then((k8s) => {
      const kc = new k8s.KubeConfig();
      if (kubeconfig) kc.loadFromFile(kubeconfig);
      else kc.loadFromCluster();
      return kc.makeApiClient(k8s.CoreV1Api);
    }));
  return {
    where: `Kubernetes namespace ${namespace}`,
    async read(ref) {
      let secret;
      try {
        secret = await (await client()).readNamespacedSecret({ name: ref.name, namespace });
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
      const data = secret.data?.[ref.key];
      return data === undefined ? secret.stringData?.[ref.key] : Buffer.from(data, 'base64').toString('utf8');
    },
  };
}

/**
 * Fills `password` in from each peer's `passwordRef`. A password that cannot be read leaves the
 * peer without one (a peer that requires it then refuses the session) and adds a note naming why.
 */
export async function resolvePasswords(peers: readonly ComputedPeer[], reader: SecretReader | undefined): Promise<{ peers: ComputedPeer[]; notes: string[] }> {
  const notes: string[] = [];
  const cache = new Map<string, Promise<string | undefined>>();
  const out: ComputedPeer[] = [];
  for (const p of peers) {
    const ref = p.passwordRef;
    if (!ref) {
      out.push(p);
      continue;
    }
    const what = `${p.name}: password secretKeyRef ${ref.name}/${ref.key}`;
    if (!reader) {
      notes.push(`${what} cannot be read: no Kubernetes API configured (KUBECONFIG or in-cluster); peering without a password`);
      out.push(p);
      continue;
    }
    const id = `${ref.name}\u0000${ref.key}`;
    let pending = cache.get(id);
    if (!pending) cache.set(id, (pending = reader.read(ref)));
    try {
      const password = await pending;
      if (password === undefined) notes.push(`${what}: no such Secret or key in ${reader.where}; peering without a password`);
      else if (!password.length || Buffer.byteLength(password) > 80) notes.push(`${what}: a TCP-MD5 password must be 1 to 80 bytes; peering without a password`);
      out.push(password && Buffer.byteLength(password) <= 80 ? { ...p, password } : p);
    } catch (e) {
      notes.push(`${what}: reading it from ${reader.where} failed (${e instanceof Error ? e.message : String(e)}); peering without a password`);
      out.push(p);
    }
  }
  return { peers: out, notes };
}
