// tortie-controllers: calico-kube-controllers' job. Configured by env (controllers/env.ts and the
// datastore variables); JSON logs on stdout; /liveness, /readiness and /metrics over HTTP.
// Exit 2 on bad configuration, 1 when the datastore or the Kubernetes API cannot be reached.
import type { Server } from 'node:http';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { loadKubeConfig } from '../datastore/backends/kubernetes/driver.js';
import { configFromEnv } from '../datastore/config.js';
import { openControllerDatastore, type ControllerDatastore } from './datastore.js';
import { ETCD_ONLY_CONTROLLERS, parseControllersEnv } from './env.js';
import type { SyncController } from './k8s-sync.js';
import { KubeView } from './kube-watch.js';
import { ControllerMetrics, healthRoutes, metricsRoutes, serve } from './metrics.js';
import { NodeController } from './node-controller.js';
import { KubeSyncController } from './sync-controller.js';
import { WepLabelController } from './wep-controller.js';

const STARTUP_BUDGET_MS = 5000;

/** One small list within the budget: proves address, credentials and RBAC before anything starts. */
async function reachable(kc: KubeConfig, budgetMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${budgetMs / 1000} s`)), budgetMs);
  });
  try {
    await Promise.race([kc.makeApiClient(CoreV1Api).listNode({ limit: 1 }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const fail = (msg: string, code: number): never => {
  process.stderr.write(`tortie-controllers: ${msg}\n`);
  process.exit(code);
};
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function main(): Promise<void> {
  const parsed = parseControllersEnv(process.env);
  if (!parsed.ok) return fail(parsed.errors.join('\ntortie-controllers: '), 2);
  const cfg = parsed.config;
  const log = pino({ level: cfg.logLevel === 'warning' ? 'warn' : cfg.logLevel, base: { component: 'tortie-controllers' } });
  for (const w of parsed.warnings) log.warn(w);

  let ds: ControllerDatastore;
  let kc;
  const dsConfig = configFromEnv(process.env);
  let enabled = cfg.enabled;
  if (dsConfig.type === 'kubernetes') {
    for (const c of enabled.filter((n) => ETCD_ONLY_CONTROLLERS.includes(n))) log.warn(`controller "${c}" has nothing to do on the Kubernetes datastore (Calico reads those objects from the API directly); ignored`);
    enabled = enabled.filter((n) => !ETCD_ONLY_CONTROLLERS.includes(n));
  }
  try {
    ds = await openControllerDatastore(dsConfig, (bad) => log.warn({ key: bad.where, kind: bad.key.kind, reason: bad.reason }, 'invalid value in the datastore skipped'));
    kc = loadKubeConfig(process.env.KUBECONFIG?.trim() || undefined);
  } catch (e) {
    return fail(message(e), 2);
  }
  const metrics = new ControllerMetrics();
  let node: NodeController | undefined;
  let wep: WepLabelController | undefined;
  const kube =
    enabled.includes('node') || enabled.includes('workloadendpoint')
      ? new KubeView(kc, log, (what) => {
          node?.poke();
          if (what === 'pod-changed') wep?.poke();
        })
      : undefined;
  const syncs = enabled
    .filter((n): n is SyncController => n === 'policy' || n === 'namespace' || n === 'serviceaccount')
    .map((n) => new KubeSyncController(n, kc, ds, log, metrics, cfg.reconcilePeriodMs));
  if (kube && enabled.includes('workloadendpoint')) wep = new WepLabelController(kube, ds, log, metrics, cfg.reconcilePeriodMs);
  if (kube && enabled.includes('node')) {
    node = new NodeController(kube, ds, log, metrics, { leakGraceMs: cfg.leakGraceMs, reconcilePeriodMs: cfg.reconcilePeriodMs });
  }
  const servers: Server[] = [];
  try {
    servers.push(
      await serve(
        healthRoutes({
          live: () => true,
          ready: () => {
            const reasons = [
              kube && !kube.synced ? 'Kubernetes caches not synced' : '',
              kube?.lastError ?? '',
              node && !node.lastPassOk ? `node controller: ${node.lastError ?? 'no pass yet'}` : '',
              ...syncs.map((s) => (s.ready ? '' : (s.lastError ?? `${s.name}: not synced`))),
              wep?.lastError ?? '',
            ].filter(Boolean);
            return { ok: reasons.length === 0, reasons };
          },
        }),
        cfg.healthHost,
        cfg.healthPort,
      ),
    );
    if (cfg.metricsPort) servers.push(await serve(metricsRoutes(metrics), cfg.healthHost, cfg.metricsPort));
  } catch (e) {
    return fail(`health/metrics endpoint: ${message(e)}`, 1);
  }

  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    Promise.all([node?.stop(), wep?.stop(), kube?.stop(), ...syncs.map((s) => s.stop())])
      .then(() => ds.close())
      .then(
        () => {
          for (const s of servers) s.close();
          process.exit(0);
        },
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // An unreachable or refusing apiserver is reported at once, not retried silently.
  const server = kc.getCurrentCluster()?.server ?? '?';
  try {
    await reachable(kc, STARTUP_BUDGET_MS);
    await Promise.all([kube?.start(), ...syncs.map((s) => s.start())]);
  } catch (e) {
    log.fatal({ err: message(e), server }, 'cannot list from the Kubernetes API');
    return fail(`cannot list Nodes from the Kubernetes API at ${server}: ${message(e)} (KUBECONFIG)`, 1);
  }
  log.info({ enabled, datastore: ds.description, leakGraceMs: cfg.leakGraceMs }, 'started');
  await Promise.all([node?.pass(), wep?.pass()]);
}

void main();
