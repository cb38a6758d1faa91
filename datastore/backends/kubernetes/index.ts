// The Kubernetes datastore (DATASTORE_TYPE=kubernetes + KUBECONFIG, or datastoreType: kubernetes /
// kubeconfig / k8sAPIEndpoint in the tortiectl config).
import type { DatastoreConfig } from '../../config.js';
import { KubernetesStore, type KubernetesStoreOptions } from './store.js';

export { KubernetesStore, type KubernetesStoreOptions } from './store.js';
export { CRD_KINDS, crdFor, renderCrdFiles } from './crds.js';

export function kubernetesStoreFromConfig(
  config: Extract<DatastoreConfig, { type: 'kubernetes' }>,
  opts: Omit<KubernetesStoreOptions, 'kubeconfig' | 'server'> = {},
): KubernetesStore {
  return new KubernetesStore({
    ...opts,
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    ...(config.k8sAPIEndpoint ? { server: config.k8sAPIEndpoint } : {}),
  });
}
