// Driver of one etcd sync controller (policy, namespace or serviceaccount): an informer on the
// Kubernetes kind, the model's conversion of each object, and passes that make the datastore
// match (k8s-sync.ts decides). An object the model cannot convert is reported and its Calico
// counterpart left as it is, never deleted on that account.
import { CoreV1Api, NetworkingV1Api, makeInformer, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { k8sPolicyToStored, namespaceToStored, serviceAccountToStored } from '../datastore/backends/kubernetes/derived-convert.js';
import type { KubeObject } from '../datastore/backends/kubernetes/driver.js';
import { KNP_PREFIX, KNS_PREFIX, KSA_PREFIX } from '../datastore/model/k8s.js';
import type { StoredObject } from '../datastore/store.js';
import type { ControllerDatastore } from './datastore.js';
import { planSync, type SyncController, type SyncedObject } from './k8s-sync.js';
import type { ControllerMetrics } from './metrics.js';
import { listed } from './kube-watch.js';
import { PassRunner } from './pass-runner.js';

interface Source {
  path: string;
  list: (kc: KubeConfig) => () => Promise<{ items: KubernetesObject[] }>;
  convert: (o: KubeObject) => StoredObject | { error: string };
  /** The Calico object's name (and namespace) for a Kubernetes object, even one that does not convert. */
  target: (o: KubeObject) => Pick<SyncedObject, 'kind' | 'name' | 'namespace'>;
}

const SOURCES: Record<SyncController, Source> = {
  policy: {
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    list: (kc) => () => kc.makeApiClient(NetworkingV1Api).listNetworkPolicyForAllNamespaces(),
    convert: k8sPolicyToStored,
    target: (o) => ({ kind: 'NetworkPolicy', name: `${KNP_PREFIX}${o.metadata.name}`, namespace: o.metadata.namespace ?? 'default' }),
  },
  namespace: {
    path: '/api/v1/namespaces',
    list: (kc) => () => kc.makeApiClient(CoreV1Api).listNamespace(),
    convert: namespaceToStored,
    target: (o) => ({ kind: 'Profile', name: `${KNS_PREFIX}${o.metadata.name}` }),
  },
  serviceaccount: {
    path: '/api/v1/serviceaccounts',
    list: (kc) => () => kc.makeApiClient(CoreV1Api).listServiceAccountForAllNamespaces(),
    convert: serviceAccountToStored,
    target: (o) => ({ kind: 'Profile', name: `${KSA_PREFIX}${o.metadata.namespace ?? 'default'}.${o.metadata.name}` }),
  },
};

const key = (o: Pick<SyncedObject, 'kind' | 'name' | 'namespace'>): string => `${o.kind}/${o.namespace ?? ''}/${o.name}`;

export class KubeSyncController {
  private readonly informer;
  private readonly runner: PassRunner;
  private listed = false;
  private stopped = false;
  lastError: string | undefined;

  constructor(
    readonly name: SyncController,
    kc: KubeConfig,
    private readonly ds: ControllerDatastore,
    private readonly log: Logger,
    private readonly metrics: ControllerMetrics,
    private readonly periodMs: number,
  ) {
    const src = SOURCES[name];
    this.informer = makeInformer(kc, src.path, listed(src.list(kc), () => (this.listed = true)));
    this.runner = new PassRunner(() => this.runPass());
    for (const ev of ['add', 'update', 'delete'] as const) this.informer.on(ev, () => this.runner.poke());
    this.informer.on('connect', () => (this.lastError = undefined));
    this.informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.lastError = `watch ${name}: ${err instanceof Error ? err.message : String(err)}`;
      this.log.warn({ err: this.lastError }, 'Kubernetes watch failed; restarting');
      setTimeout(() => void (this.stopped ? undefined : this.informer.start().catch(() => undefined)), 2000).unref();
    });
  }

  async start(): Promise<void> {
    await this.informer.start();
    // After a successful list; a failed one is retried by the error handler, and a pass follows
    // from the informer's add events.
    await new Promise((r) => setImmediate(r));
    await this.runner.run();
  }

  get ready(): boolean {
    return this.listed && this.lastError === undefined;
  }

  private async runPass(): Promise<number> {
    if (!this.listed) return this.periodMs;
    const src = SOURCES[this.name];
    const desired: SyncedObject[] = [];
    const unconvertible = new Set<string>();
    for (const o of this.informer.list()) {
      const r = src.convert(o as KubeObject);
      if ('error' in r) {
        unconvertible.add(key(src.target(o as KubeObject)));
        this.log.warn({ controller: this.name, err: r.error }, 'cannot convert; its Calico object is left as it is');
        continue;
      }
      const v = r.value;
      desired.push({ kind: v.kind as SyncedObject['kind'], name: v.metadata.name, ...(v.metadata.namespace ? { namespace: v.metadata.namespace } : {}), spec: v.spec });
    }
    try {
      const plan = planSync(this.name, desired, await this.ds.listDerived(this.name));
      for (const o of plan.upserts) await this.ds.writeDerived(o);
      const deletes = plan.deletes.filter((o) => !unconvertible.has(key(o)));
      for (const o of deletes) await this.ds.deleteDerived(o);
      if (plan.upserts.length || deletes.length) {
        this.metrics.syncWrites.inc({ controller: this.name }, plan.upserts.length + deletes.length);
        this.log.info({ controller: this.name, written: plan.upserts.map(key), deleted: deletes.map(key) }, 'synced from Kubernetes');
      }
      this.lastError = undefined;
      return this.periodMs;
    } catch (e) {
      this.lastError = `${this.name}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error({ err: this.lastError }, 'sync pass failed; retrying');
      return 5000;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner.stop();
    await this.informer.stop();
  }
}
