// Runs the node controller: a pass reads both sides, plans (node-gc.ts) and carries the plan out.
// Passes are serialised (pass-runner.ts); a Kubernetes change asks for one soon, the period for one anyway, and a
// pending leak for one when its grace period ends.
import type { Logger } from 'pino';
import type { ControllerDatastore } from './datastore.js';
import type { ControllerMetrics } from './metrics.js';
import { planNodeGc, type NodeGcAction } from './node-gc.js';
import { planLabelSync } from './node-labels.js';
import type { KubeView } from './kube-watch.js';
import { PassRunner } from './pass-runner.js';

export interface NodeControllerOptions {
  leakGraceMs: number;
  reconcilePeriodMs: number;
  /** Coalesces a burst of Kubernetes events into one pass. */
  debounceMs?: number;
  now?: () => number;
}

export class NodeController {
  private leakSince = new Map<string, number>();
  private readonly runner: PassRunner;
  private readonly now: () => number;
  lastPassOk = false;
  lastError: string | undefined;

  constructor(
    private readonly kube: KubeView,
    private readonly ds: ControllerDatastore,
    private readonly log: Logger,
    private readonly metrics: ControllerMetrics,
    private readonly opts: NodeControllerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.runner = new PassRunner(() => this.runPass(), opts.debounceMs);
  }

  poke(): void {
    this.runner.poke();
  }

  pass(): Promise<void> {
    return this.runner.run();
  }

  private async runPass(): Promise<number> {
    let next = this.opts.reconcilePeriodMs;
    try {
      if (!this.kube.synced) return next;
      const [ipam, calicoNodes] = await Promise.all([this.ds.ipamState(), this.ds.calicoNodes()]);
      const now = this.now();
      const plan = planNodeGc({
        now,
        graceMs: this.opts.leakGraceMs,
        kubeNodes: this.kube.nodeNames(),
        deletedKubeNodes: this.kube.deletedNodes,
        pods: this.kube.podAddresses(),
        allocations: ipam.allocations,
        affinityHosts: ipam.affinityHosts,
        ...(calicoNodes ? { calicoNodes } : {}),
        leakSince: this.leakSince,
      });
      for (const a of plan.actions) await this.act(a);
      if (calicoNodes) {
        for (const u of planLabelSync(this.kube.nodeLabels(), calicoNodes)) {
          await this.ds.setCalicoNodeLabels(u);
          this.metrics.labelSyncs.inc();
          this.log.info({ node: u.node, labels: u.labels }, 'copied Kubernetes Node labels to the Calico Node');
        }
      }
      this.leakSince = plan.leakSince;
      this.metrics.pendingLeaks.set(plan.pendingLeaks);
      this.metrics.passes.inc({ result: 'ok' });
      this.lastPassOk = true;
      this.lastError = undefined;
      for (const since of plan.leakSince.values()) next = Math.min(next, since + this.opts.leakGraceMs - now);
    } catch (e) {
      this.lastPassOk = false;
      this.lastError = e instanceof Error ? e.message : String(e);
      this.metrics.passes.inc({ result: 'error' });
      this.log.error({ err: this.lastError }, 'node controller pass failed; retrying');
      next = Math.min(next, 5000);
    }
    return next;
  }

  private async act(a: NodeGcAction): Promise<void> {
    switch (a.kind) {
      case 'delete-calico-node':
        await this.ds.deleteCalicoNode(a.node);
        this.metrics.nodesDeleted.inc();
        this.log.info({ node: a.node }, 'deleted the Calico Node of a deleted Kubernetes Node');
        return;
      case 'release-ips': {
        const released = await this.ds.releaseIps(a.ips);
        this.metrics.ipsReleased.inc({ reason: a.reason }, released.length);
        this.log.info({ reason: a.reason, released, asked: a.ips.length }, 'released addresses');
        return;
      }
      case 'release-affinities': {
        const r = await this.ds.releaseAffinities(a.node);
        this.metrics.affinitiesReleased.inc(r.released.length);
        this.log.info({ node: a.node, ...r }, 'released block affinities of a deleted node');
        return;
      }
    }
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}
