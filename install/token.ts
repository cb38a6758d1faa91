// The CNI plugin's own token (Calico's install asks for calico-cni-plugin's): a TokenRequest for the
// named ServiceAccount, made with this pod's account, which needs `create serviceaccounts/token`.
/** Calico asks for a day and refreshes; a longer request is capped by the API server. */
const EXPIRATION_SECONDS = 24 * 3600;

export async function requestToken(serviceAccount: string, namespace: string): Promise<string> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  // The in-cluster files at their standard paths (loadFromCluster's argument is a prefix to them).
  kc.loadFromCluster();
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const res = await api.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: EXPIRATION_SECONDS } },
  });
  const token = res.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}
