// The node's Service IP advertisement (Calico's route generator): the default BGPConfiguration's
// service ranges from the datastore, Services and EndpointSlices from the Kubernetes API (on
// either datastore, as calico-node reads them with its kubeconfig), and servicePrefixes() over
// them. Without a Kubernetes API only the ranges are advertised.
import type { Logger } from 'pino';
import { KubeApi, loadKubeConfig } from '../../datastore/backends/kubernetes/driver.js';
import type { Store } from '../../datastore/store.js';
import { Syncer } from '../../datastore/syncer.js';
import type { Prefix } from '../../bgp/types.js';
import { inServiceRanges, servicePrefixes, type EndpointSliceInput, type ServiceInput, type ServiceIpConfig } from './advertise.js';
import { KubeCache, type KubeReader } from './kube-cache.js';

export interface ServiceAdvertiserOptions {
  store: Store;
  /** The Kubernetes API Services and EndpointSlices are read from (closed by stop()); undefined: the ranges only. */
  api: (KubeReader & { close?(): void }) | undefined;
  /** The node's name in the Kubernetes API (EndpointSlices' endpoints[].nodeName). */
  nodeName: string;
  log: Logger;
  /** Called when what should be advertised may have changed. */
  onChange(): void;
}

export class ServiceAdvertiser {
  private cfg: ServiceIpConfig = {};
  private cfgSynced = false;
  private syncer?: Syncer;
  private readonly caches: { services: KubeCache; slices: KubeCache } | undefined;

  constructor(private readonly o: ServiceAdvertiserOptions) {
    const cache = (path: string, what: string): KubeCache =>
      new KubeCache({
        api: o.api as KubeReader,
        path,
        what,
        onChange: () => o.onChange(),
        onError: (err, relist) => o.log.warn({ err: err.message, relist }, `watch of ${what} for service advertisement failed; ${relist ? 're-listing' : 'resuming'}`),
      });
    this.caches = o.api ? { services: cache('/api/v1/services', 'services'), slices: cache('/apis/discovery.k8s.io/v1/endpointslices', 'endpointslices') } : undefined;
  }

  start(): void {
    this.syncer = new Syncer({
      store: this.o.store,
      kinds: ['BGPConfiguration'],
      onEvents: (evs) => {
        for (const e of evs) {
          const key = e.type === 'update' ? e.object.key : e.key;
          // Calico reads the service fields from the cluster-wide "default" configuration only.
          if (key.name !== 'default') continue;
          this.cfg = e.type === 'update' ? ((e.object.value.spec ?? {}) as ServiceIpConfig) : {};
        }
        this.o.onChange();
      },
      onStatus: (s) => {
        this.cfgSynced ||= s === 'in-sync';
        if (this.cfgSynced) this.o.onChange();
      },
      onError: (err) => this.o.log.warn({ err: err.message }, 'BGPConfiguration watch failed; re-syncing'),
    });
    this.syncer.start();
    if (this.caches) {
      this.caches.services.start();
      this.caches.slices.start();
    } else {
      this.o.log.info('no Kubernetes API (KUBECONFIG or in-cluster): service ranges are advertised, per-Service addresses (externalTrafficPolicy Local) are not');
    }
  }

  /** What to originate now; undefined until the BGPConfiguration is known (never a partial view). */
  prefixes(): Prefix[] | undefined {
    if (!this.cfgSynced) return undefined;
    const c = this.caches;
    // Until both collections are listed, the ranges only: no Service is withdrawn for a partial view
    // because none was advertised from it yet.
    const ready = !!c && c.services.synced && c.slices.synced;
    const services = ready ? (c.services.list() as unknown as ServiceInput[]) : [];
    const slices = ready ? (c.slices.list() as unknown as EndpointSliceInput[]) : [];
    return servicePrefixes(this.cfg, services, slices, this.o.nodeName);
  }

  /** True for a learned route inside a service range (kept out of the kernel, as Calico's BIRD does). */
  inRanges(dst: string): boolean {
    return inServiceRanges(this.cfg, dst);
  }

  async stop(): Promise<void> {
    this.caches?.services.stop();
    this.caches?.slices.stop();
    this.o.api?.close?.();
    await this.syncer?.stop();
  }
}

/**
 * The Kubernetes API named by the environment (KUBECONFIG, else in-cluster; K8S_API_ENDPOINT
 * overrides the server), as calico-node finds it; undefined when there is none or it is unusable.
 */
export function kubeApiFromEnv(env: NodeJS.ProcessEnv, log: Logger): KubeApi | undefined {
  if (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST) return undefined;
  try {
    return new KubeApi(loadKubeConfig(env.KUBECONFIG || undefined, env.K8S_API_ENDPOINT || undefined));
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot use the Kubernetes API for service advertisement');
    return undefined;
  }
}
