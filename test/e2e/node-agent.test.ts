// tortie-node's operational surface in a 2-node lab: readiness means "in sync and every configured
// BGP session up" (like calico-node -felix-ready -bird-ready) and follows a peer going away and
// coming back; Prometheus metrics for sessions, routes, sync state, apply latency and convergence; JSON logs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('h');

/** GET on the host's loopback from inside its namespace: status code and body. */
async function get(node: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const js = `fetch('http://127.0.0.1:${port}${path}').then(async r=>{process.stdout.write(JSON.stringify({status:r.status,body:await r.text()}))},e=>{process.stdout.write(JSON.stringify({status:0,body:String(e)}))})`;
  return JSON.parse(await t.exec(t.ns(node), [process.execPath, '-e', js])) as { status: number; body: string };
}

/** One sample value from Prometheus text, e.g. metric('tortie_bgp_sessions{state="Established"}'). */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('tortie-node: readiness, metrics, logs', () => {
  beforeAll(async () => {
    await t.lab(['up', '--nodes', '2', '--pods-per-node', '1']);
  }, 300_000);
  afterAll(async () => {
    await t.down();
  });

  it('is live and ready once in sync with its BGP session up', async () => {
    expect(await get('node1', 9099, '/liveness')).toEqual({ status: 200, body: 'live\n' });
    expect(await get('node1', 9099, '/readiness')).toEqual({ status: 200, body: 'ready\n' });
  });

  it('exports sessions, routes, sync state and dataplane apply latency', async () => {
    const { status, body } = await get('node1', 9091, '/metrics');
    expect(status).toBe(200);
    expect(metric(body, 'tortie_datastore_in_sync')).toBe(1);
    expect(metric(body, 'tortie_bgp_sessions{state="Established"}')).toBe(1);
    // Own pod /32, own block's blackhole, node2's block via BGP.
    expect(metric(body, 'tortie_routes_programmed')).toBeGreaterThanOrEqual(3);
    expect(metric(body, 'tortie_bgp_routes_learned')).toBe(1);
    expect(metric(body, 'tortie_dataplane_apply_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(body).toMatch(/^tortie_dataplane_apply_seconds_bucket\{le="0\.1"\} \d+$/m);
    expect(metric(body, 'tortie_dataplane_apply_errors_total')).toBe(0);
    // Convergence: node1's own pod got its route; node2's block, learned over BGP, was programmed.
    expect(metric(body, 'tortie_endpoint_route_programmed_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metric(body, 'tortie_bgp_route_programmed_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('writes JSON log lines (pino) naming the node', () => {
    const lines = readFileSync(join(t.stateDir, 'node1.log'), 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(2);
    const recs = lines.map((l) => JSON.parse(l) as { level: number; time: number; msg: string; node: string });
    for (const r of recs) expect(r).toMatchObject({ level: expect.any(Number), time: expect.any(Number), msg: expect.any(String), node: 'node1' });
    expect(recs.some((r) => r.msg === 'datastore sync status')).toBe(true);
  });

  it('is not ready while a configured BGP session is down, ready again when it is back', async () => {
    await t.lab(['node', 'stop', 'node2']);
    const down = await eventually(async () => {
      const r = await get('node1', 9099, '/readiness');
      return r.status === 503 ? r : undefined;
    }, 60_000);
    expect(down.body).toBe('not ready: BGP not established with 10.0.0.12\n');
    const m = (await get('node1', 9091, '/metrics')).body;
    expect(metric(m, 'tortie_bgp_sessions{state="Established"}') ?? 0).toBe(0);
    expect(metric(m, 'tortie_datastore_in_sync')).toBe(1);
    await t.lab(['node', 'start', 'node2']);
    const up = await eventually(async () => {
      const r = await get('node1', 9099, '/readiness');
      return r.status === 200 ? r : undefined;
    }, 90_000);
    expect(up.body).toBe('ready\n');
  });
});
