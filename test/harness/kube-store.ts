// A KubernetesStore on a private kube-apiserver with Calico's CRDs installed, shaped as the Store
// conformance suite's fixture. The apiserver refuses namespaced objects in a namespace that does
// not exist (as on any cluster); the suite invents namespaces, so the fixture's store creates a
// namespace before the first write into it, as a cluster admin would have.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import type { Store, StoredValue } from '../../datastore/store.js';
import { startKubeApiserver, type KubeApiserver } from './kube.js';

const CRD_DIR = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'manifests', 'crds');

/** Starts kube-apiserver, installs manifests/crds/ and waits for them to be served. */
export async function startKubeWithCalicoCrds(): Promise<KubeApiserver> {
  const kube = await startKubeApiserver();
  try {
    await kube.kubectl(['apply', '-f', CRD_DIR]);
    await kube.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    return kube;
  } catch (err) {
    await kube.stop();
    throw err;
  }
}

/** The store, with namespaces made on demand for the objects written through it. */
function withNamespaces(store: KubernetesStore, kube: KubeApiserver): Store {
  const made = new Set<string>(['default']);
  const ensure = async (ns: string | undefined): Promise<void> => {
    if (!ns || made.has(ns)) return;
    await kube.kubectl(['create', 'namespace', ns]).catch((err: Error) => {
      if (!/AlreadyExists/.test(err.message)) throw err;
    });
    made.add(ns);
  };
  return Object.assign(Object.create(store) as KubernetesStore, {
    create: async (v: StoredValue) => {
      await ensure(v.metadata.namespace);
      return store.create(v);
    },
  });
}

export interface KubeStoreFixture {
  store: Store;
  second(): Promise<Store>;
  /** Restarts the apiserver: its watch cache starts over, so every earlier revision is too old (410). */
  expireHistory(): Promise<void>;
  cleanup(): Promise<void>;
  kube: KubeApiserver;
}

export async function kubeStoreFixture(): Promise<KubeStoreFixture> {
  const kube = await startKubeWithCalicoCrds();
  const stores: KubernetesStore[] = [];
  const open = (): Store => {
    const s = new KubernetesStore({ kubeconfig: kube.kubeconfig });
    stores.push(s);
    return withNamespaces(s, kube);
  };
  return {
    kube,
    store: open(),
    second: async () => open(),
    expireHistory: async () => {
      await kube.kill('SIGTERM');
      await kube.start();
    },
    cleanup: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await kube.stop();
    },
  };
}
