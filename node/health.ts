// Liveness/readiness (like calico-node -felix-live / -felix-ready -bird-ready) and Prometheus metrics.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface HealthSource {
  live(): boolean;
  ready(): { ok: boolean; reasons: string[] };
}

export function serveHealth(src: HealthSource, host: string, port: number): Promise<Server> {
  const srv = createServer((req, res) => {
    if (req.url === '/liveness') {
      const ok = src.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'live\n' : 'not live\n');
    } else if (req.url === '/readiness') {
      const r = src.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(r.ok ? 'ready\n' : `not ready: ${r.reasons.join('; ')}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  return listen(srv, host, port);
}

function listen(srv: Server, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

const CONVERGENCE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class NodeMetrics {
  readonly registry = new Registry();
  readonly inSync = new Gauge({ name: 'tortie_datastore_in_sync', help: '1 when the datastore syncer is in sync', registers: [this.registry] });
  readonly sessions = new Gauge({ name: 'tortie_bgp_sessions', help: 'BGP sessions by state', labelNames: ['state'], registers: [this.registry] });
  readonly routes = new Gauge({ name: 'tortie_routes_programmed', help: 'routes felix has programmed (proto 80)', registers: [this.registry] });
  readonly learned = new Gauge({ name: 'tortie_bgp_routes_learned', help: 'best routes learned over BGP', registers: [this.registry] });
  readonly applySeconds = new Histogram({ name: 'tortie_dataplane_apply_seconds', help: 'time to apply one dataplane update', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly cniSeconds = new Histogram({
    name: 'tortie_cni_request_seconds',
    help: 'time to serve one CNI plugin call on the CNI socket, by call and result',
    labelNames: ['op', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly cniAssigns = new Counter({
    name: 'tortie_cni_assigns_total',
    help: 'ADDs served on the CNI socket that got their addresses, by how: grouped (one block write shared with the ADDs queued beside it) or alone',
    labelNames: ['how'],
    registers: [this.registry],
  });
  readonly endpointConvergence = new Histogram({
    name: 'tortie_endpoint_route_programmed_seconds',
    help: "from a WorkloadEndpoint of this node first seen in the datastore to the dataplane apply with its route done",
    buckets: CONVERGENCE_BUCKETS,
    registers: [this.registry],
  });
  readonly learnedConvergence = new Histogram({
    name: 'tortie_bgp_route_programmed_seconds',
    help: 'from a route learned over BGP to the dataplane apply with it done',
    buckets: CONVERGENCE_BUCKETS,
    registers: [this.registry],
  });
  readonly applyErrors = new Counter({ name: 'tortie_dataplane_apply_errors_total', help: 'dataplane operations that failed', registers: [this.registry] });

  serve(host: string, port: number): Promise<Server> {
    const srv = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    return listen(srv, host, port);
  }
}
