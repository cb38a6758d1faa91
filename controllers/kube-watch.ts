// The Kubernetes side of tortie-controllers: list+watch caches of Nodes and Pods through
// @kubernetes/client-node informers. Thin: it keeps the caches, restarts a failed watch after a
// pause, and tells the controller when something it cares about changed.
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { podIPNetworks } from '../datastore/backends/kubernetes/pod-convert.js';
import type { KubeObject } from '../datastore/backends/kubernetes/driver.js';
import type { PodAddresses } from './node-gc.js';

const RESTART_DELAY_MS = 2000;

/**
 * A list function that reports its first success once the informer has filled its cache (the
 * informer adds the items right after the list resolves, so the report waits one turn). The
 * informer's own 'connect' and start() come before or without a successful list.
 */
export function listed<T>(list: () => Promise<T>, onListed: () => void): () => Promise<T> {
  return () =>
    list().then((r) => {
      setImmediate(onListed);
      return r;
    });
}

export type KubeChange = 'node-deleted' | 'node-added' | 'node-labels' | 'pod-deleted' | 'pod-changed';

export class KubeView {
  private readonly nodes: Informer<V1Node> & ObjectCache<V1Node>;
  private readonly pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly listed = new Set<string>();
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Nodes seen deleted since start: on etcd their Calico Node may carry no orchRef. */
  readonly deletedNodes = new Set<string>();
  lastError: string | undefined;

  constructor(
    kc: KubeConfig,
    private readonly log: Logger,
    private readonly onChange: (what: KubeChange) => void,
  ) {
    const core = kc.makeApiClient(CoreV1Api);
    this.nodes = makeInformer(kc, '/api/v1/nodes', listed(() => core.listNode(), () => this.listed.add('nodes')));
    this.pods = makeInformer(kc, '/api/v1/pods', listed(() => core.listPodForAllNamespaces(), () => this.listed.add('pods')));
    this.nodes.on('add', (n) => {
      this.deletedNodes.delete(n.metadata?.name ?? '');
      this.onChange('node-added');
    });
    // Nodes are updated all the time (status); only a label change concerns the controller.
    const labelsOf = new Map<string, string>();
    this.nodes.on('update', (n) => {
      const name = n.metadata?.name ?? '';
      const now = JSON.stringify(n.metadata?.labels ?? {});
      if (labelsOf.get(name) === now) return;
      labelsOf.set(name, now);
      this.onChange('node-labels');
    });
    this.nodes.on('delete', (n) => {
      labelsOf.delete(n.metadata?.name ?? '');
      if (n.metadata?.name) this.deletedNodes.add(n.metadata.name);
      this.onChange('node-deleted');
    });
    this.pods.on('delete', () => this.onChange('pod-deleted'));
    this.pods.on('update', () => this.onChange('pod-changed'));
    this.watchFailures('nodes', this.nodes);
    this.watchFailures('pods', this.pods);
  }

  private watchFailures<T extends KubernetesObject>(what: string, inf: Informer<T>): void {
    inf.on('connect', () => (this.lastError = undefined));
    inf.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.lastError = `watch ${what}: ${err instanceof Error ? err.message : String(err)}`;
      this.log.warn({ err: this.lastError }, 'Kubernetes watch failed; restarting');
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.stopped) inf.start().catch(() => undefined);
      }, RESTART_DELAY_MS);
      this.timers.add(t);
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.nodes.start(), this.pods.start()]);
  }

  /** Both caches hold a full list: acting on an empty cache would take every node for deleted. */
  get synced(): boolean {
    return this.listed.has('nodes') && this.listed.has('pods');
  }

  nodeNames(): Set<string> {
    return new Set(this.nodes.list().map((n) => n.metadata?.name ?? '').filter(Boolean));
  }

  nodeLabels(): Map<string, Record<string, string>> {
    return new Map(this.nodes.list().map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
  }

  /** "namespace/name" → the pod's labels. */
  podLabels(): Map<string, Record<string, string>> {
    return new Map(this.pods.list().map((p) => [`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p.metadata?.labels ?? {}]));
  }

  podAddresses(): PodAddresses[] {
    return this.pods.list().map((p) => ({
      namespace: p.metadata?.namespace ?? '',
      name: p.metadata?.name ?? '',
      ips: podIPNetworks(p as KubeObject).map((c) => c.split('/')[0] ?? c),
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([this.nodes.stop(), this.pods.stop()]);
  }
}
