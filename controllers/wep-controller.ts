// Driver of the workloadendpoint controller (etcd): on pod changes, endpoints whose labels differ
// from their pod's get the pod's (wep-labels.ts decides).
import type { Logger } from 'pino';
import type { ControllerDatastore } from './datastore.js';
import type { KubeView } from './kube-watch.js';
import type { ControllerMetrics } from './metrics.js';
import { PassRunner } from './pass-runner.js';
import { planWepLabels } from './wep-labels.js';

export class WepLabelController {
  private readonly runner: PassRunner;
  lastError: string | undefined;

  constructor(
    private readonly kube: KubeView,
    private readonly ds: ControllerDatastore,
    private readonly log: Logger,
    private readonly metrics: ControllerMetrics,
    private readonly periodMs: number,
  ) {
    this.runner = new PassRunner(() => this.runPass());
  }

  poke(): void {
    this.runner.poke();
  }

  pass(): Promise<void> {
    return this.runner.run();
  }

  private async runPass(): Promise<number> {
    if (!this.kube.synced) return this.periodMs;
    try {
      for (const w of planWepLabels(await this.ds.listWeps(), this.kube.podLabels())) {
        await this.ds.setWepLabels(w);
        this.metrics.syncWrites.inc({ controller: 'workloadendpoint' });
        this.log.info({ endpoint: `${w.namespace}/${w.name}`, labels: w.labels }, 'copied pod labels to its WorkloadEndpoint');
      }
      this.lastError = undefined;
      return this.periodMs;
    } catch (e) {
      this.lastError = `workloadendpoint: ${e instanceof Error ? e.message : String(e)}`;
      this.log.error({ err: this.lastError }, 'workloadendpoint pass failed; retrying');
      return 5000;
    }
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}
