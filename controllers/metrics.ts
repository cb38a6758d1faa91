// tortie-controllers' Prometheus metrics and its HTTP endpoints: /liveness and /readiness on the
// health port (as tortie-node has them), /metrics on Calico's kube-controllers metrics port.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly passes = new Counter({ name: 'tortie_controllers_node_passes_total', help: 'node controller passes by result', labelNames: ['result'], registers: [this.registry] });
  readonly ipsReleased = new Counter({ name: 'tortie_controllers_ipam_released_total', help: 'addresses released, by reason (node-deleted, leaked)', labelNames: ['reason'], registers: [this.registry] });
  readonly affinitiesReleased = new Counter({ name: 'tortie_controllers_affinities_released_total', help: 'block affinities of deleted nodes released', registers: [this.registry] });
  readonly nodesDeleted = new Counter({ name: 'tortie_controllers_calico_nodes_deleted_total', help: 'Calico Nodes deleted after their Kubernetes Node (etcd)', registers: [this.registry] });
  readonly labelSyncs = new Counter({ name: 'tortie_controllers_node_label_syncs_total', help: 'Calico Nodes whose labels were updated from their Kubernetes Node (etcd)', registers: [this.registry] });
  readonly syncWrites = new Counter({ name: 'tortie_controllers_sync_writes_total', help: 'Calico objects written or deleted to follow Kubernetes (etcd), by controller', labelNames: ['controller'], registers: [this.registry] });
  readonly pendingLeaks = new Gauge({ name: 'tortie_controllers_ipam_leak_candidates', help: 'addresses no pod holds, inside their grace period', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

export interface HealthSource {
  live(): boolean;
  ready(): { ok: boolean; reasons: string[] };
}

type Handler = () => Promise<{ status: number; type: string; body: string }>;

export function serve(routes: Record<string, Handler>, host: string, port: number): Promise<Server> {
  const srv = createServer((req, res) => {
    const h = routes[req.url ?? ''];
    if (!h) return void res.writeHead(404).end();
    h().then(
      (r) => res.writeHead(r.status, { 'content-type': r.type }).end(r.body),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

export function healthRoutes(src: HealthSource): Record<string, Handler> {
  const text = 'text/plain';
  return {
    '/liveness': async () => (src.live() ? { status: 200, type: text, body: 'live\n' } : { status: 503, type: text, body: 'not live\n' }),
    '/readiness': async () => {
      const r = src.ready();
      return r.ok ? { status: 200, type: text, body: 'ready\n' } : { status: 503, type: text, body: `not ready: ${r.reasons.join('; ')}\n` };
    },
  };
}

export function metricsRoutes(m: ControllerMetrics): Record<string, Handler> {
  return { '/metrics': async () => ({ status: 200, type: m.registry.contentType, body: await m.registry.metrics() }) };
}
