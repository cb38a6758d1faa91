// Real etcd, 50 allocator processes × 40 addresses: every address distinct; then the same while a chaos
// loop SIGKILLs allocators mid-claim, followed by check + GC: no duplicate, no leak, no stale affinity.
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { resourceListPrefix } from '../../datastore/keys.js';
import { IpamClient } from '../../ipam/allocator.js';
import { checkIpam } from '../../ipam/check.js';
import { IpamGc } from '../../ipam/gc.js';
import { putNode, putPool } from '../../ipam/testing.js';
import { entry } from '../harness/entry.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';

const WORKERS = 50;
const PER_WORKER = 40;
const HOSTS = 10;
// Compiled when `make test` built it (TORTIE_TEST_DIST=1): 50 tsx start-ups at once cost minutes on 2 cores.
const [NODE, WORKER_ARGV] = entry('bench/ipam-worker');
const live = new Set<ReturnType<typeof spawn>>();

interface WorkerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  ips: string[];
}

function worker(endpoint: string, id: number, gen: number, killAfterMs?: number, claimDelayMs = 0): Promise<WorkerRun> {
  const child = spawn(NODE, [...WORKER_ARGV, endpoint, `host${id % HOSTS}`, String(id), String(PER_WORKER), String(gen)], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TORTIE_IPAM_CLAIM_DELAY_MS: String(claimDelayMs) },
  });
  live.add(child);
  let out = '';
  let err = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    // The kill clock starts once the worker is allocating (its first address is out), so it lands mid-work.
    if (killAfterMs !== undefined && !timer) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (timer) clearTimeout(timer);
      if (code !== 0 && signal === null) process.stderr.write(`worker ${id}: ${err}\n`);
      const ips = out
        .split('\n')
        .filter((l) => l.startsWith('{"ip"'))
        .map((l) => (JSON.parse(l) as { ip: string }).ip);
      resolve({ code, signal, ips });
    });
  });
}

describe('IPAM on real etcd under concurrency', () => {
  let etcd: EtcdServer;
  let be: EtcdBackend;

  // A fresh etcd per test, so the chaos run starts from an empty store.
  beforeEach(async () => {
    etcd = await startEtcd();
    be = new EtcdBackend({ endpoints: [etcd.endpoint] });
  });

  afterEach(async () => {
    for (const c of live) c.kill('SIGKILL');
    await be?.close();
    await etcd?.stop();
  });

  it('50 processes × 40 IPs give 2,000 distinct addresses', async () => {
    await putPool(new EtcdStore(be), 'conc', { cidr: '10.64.0.0/16', blockSize: 26 });
    const runs = await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(etcd.endpoint, i, 0)));
    expect(runs.every((r) => r.code === 0)).toBe(true);
    const ips = runs.flatMap((r) => r.ips);
    expect(ips).toHaveLength(WORKERS * PER_WORKER);
    expect(new Set(ips).size).toBe(WORKERS * PER_WORKER);
    const report = await checkIpam(new EtcdStore(be));
    expect(report.summary).toMatchObject({ allocations: 2000, duplicates: 0, handleMismatches: 0, pendingAffinities: 0 });
  }, 900_000); // a hang guard only: 50 processes on 2 cores under other load took > 300 s

  it('survives a chaos loop of SIGKILLs mid-claim; check + GC leave 0 duplicates, 0 leaks, no pending affinity', async () => {
    // Small blocks so that claims (the two-phase path) happen all the time.
    await putPool(new EtcdStore(be), 'chaos', { cidr: '10.80.0.0/16', blockSize: 29 });
    for (let h = 0; h < HOSTS; h++) await putNode(new EtcdStore(be), `host${h}`).catch(() => undefined);
    let kills = 0;
    const runOne = async (id: number): Promise<string[]> => {
      const ips: string[] = [];
      for (let gen = 0; ; gen++) {
        // The first two generations are killed at a random moment, with claims slowed down (50 ms
        // between phases) so that kills land between them; then the worker may finish.
        const killed = gen < 2;
        const r = await worker(etcd.endpoint, id, gen, killed ? Math.floor(Math.random() * 800) : undefined, killed ? 50 : 0);
        ips.push(...r.ips);
        if (r.signal === 'SIGKILL') kills++;
        else if (r.code === 0) return ips;
        else throw new Error(`worker ${id} failed with code ${r.code}`);
      }
    };
    const all = (await Promise.all(Array.from({ length: WORKERS }, (_, i) => runOne(i)))).flat();
    expect(kills).toBeGreaterThan(0);
    const before = await checkIpam(new EtcdStore(be));
    expect(before.summary.duplicates).toBe(0);
    expect(new Set(all).size).toBe(all.length);

    const gc = new IpamGc(new IpamClient(new EtcdStore(be)), { graceMs: 1000 });
    // The GC releases a leak only on its second sighting after the grace period.
    const first = await gc.runOnce();
    await new Promise((r) => setTimeout(r, 1100));
    const second = await gc.runOnce();
    process.stdout.write(
      `chaos: ${kills} kills; before GC ${JSON.stringify(first.report.summary)}; GC released ${second.releasedIps.length} IPs, ` +
        `confirmed ${second.confirmedAffinities.length}, removed ${second.removedAffinities.length} affinities\n`,
    );
    const after = await checkIpam(new EtcdStore(be));
    expect(after.summary).toMatchObject({ allocations: WORKERS * PER_WORKER, duplicates: 0, leaked: 0, pendingAffinities: 0, handleMismatches: 0, corrupt: 0 });
    const weps = (await be.list(resourceListPrefix('workloadendpoints'))).items;
    expect(weps).toHaveLength(WORKERS * PER_WORKER);
  }, 1_200_000);
});
