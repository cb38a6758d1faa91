// IPAM bench against one real etcd (private, on loopback):
//  1. allocations/s and datastore round trips per allocation with 1, 10 and 50 allocator processes;
//  2. time to claim a new block when 1 vs 5,000 blocks already exist (the claim lists the blocks, as
//     Calico's does, so it grows with the block count; the ratio shows by how much).
// Run: node --import tsx bench/ipam.ts   (prints ratios; figures depend on the machine)
import { spawn, type ChildProcess } from 'node:child_process';
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { EtcdStore } from '../datastore/backends/etcd-store.js';
import type { Backend } from '../datastore/backends/kv.js';
import type { Store } from '../datastore/store.js';
import { ipamBlockKey } from '../datastore/keys.js';
import { IpamClient } from '../ipam/allocator.js';
import { newBlock } from '../ipam/block.js';
import { formatCidr, nthBlock, parseCidr } from '../ipam/cidr.js';
import { putPool } from '../ipam/testing.js';
import { startEtcd } from '../test/harness/etcd.js';
import { CountingBackend } from './ipam-counting.js';

const ROOT = new URL('..', import.meta.url).pathname;

interface WorkerOut {
  made: number;
  ms: number;
  calls: number;
}

/** Workers still running, killed if the bench fails so none outlives it. */
const workers = new Set<ChildProcess>();

function runWorker(endpoint: string, host: string, id: string, count: number): Promise<WorkerOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/ipam-worker.ts', endpoint, host, id, String(count)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    workers.add(child);
    child.on('exit', () => workers.delete(child));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.includes('"done"')) reject(new Error(`worker ${id} failed: ${err}`));
      else resolve(JSON.parse(last) as WorkerOut);
    });
  });
}

async function throughput(endpoint: string, be: Store, procs: number, perProc: number, pool: string): Promise<{ rate: number; rtt: number }> {
  await putPool(be, `bench-${procs}`, { cidr: pool, blockSize: 26 });
  const outs = await Promise.all(Array.from({ length: procs }, (_, i) => runWorker(endpoint, `bench${procs}-h${i % 10}`, `b${procs}x${i}`, perProc)));
  const total = outs.reduce((n, o) => n + o.made, 0);
  const wall = Math.max(...outs.map((o) => o.ms)) / 1000;
  // The worker also reads and writes the WorkloadEndpoint: 2 calls per pod that are not IPAM's.
  const ipamCalls = outs.reduce((n, o) => n + o.calls, 0) - 2 * total;
  // Disable the pool so the next run draws from its own.
  const cur = await be.get({ kind: 'IPPool', name: `bench-${procs}` });
  if (cur) await be.delete(cur.key, cur.revision);
  return { rate: total / wall, rtt: ipamCalls / total };
}

/** Writes n blocks straight through the etcd driver, as if n claims had happened. */
async function prefill(be: Backend, poolCidr: string, blockSize: number, n: number): Promise<void> {
  const pool = parseCidr(poolCidr);
  for (let start = 0; start < n; start += 100) {
    const writes = [];
    for (let i = start; i < Math.min(n, start + 100); i++) {
      const c = nthBlock(pool, blockSize, BigInt(i));
      writes.push(be.create(ipamBlockKey(formatCidr(c), 4), JSON.stringify(newBlock(c, `host:filler${i % 50}`))));
    }
    await Promise.all(writes);
  }
}

async function timeClaims(n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f(i);
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

async function claimBench(endpoint: string): Promise<void> {
  const be = new CountingBackend(new EtcdBackend({ endpoints: [endpoint] }));
  const store = new EtcdStore(be);
  const ipam = new IpamClient(store);
  const REPS = 20;
  const results: Record<string, { ms: number; calls: number }> = {};
  for (const existing of [1, 5000]) {
    // Each run gets its own pool so runs do not see each other's blocks.
    const poolCidr = `10.${existing === 1 ? 100 : 120}.0.0/16`;
    await putPool(store, `claim-${existing}`, { cidr: poolCidr, blockSize: 29 });
    await prefill(be, poolCidr, 29, existing);
    const pool = (await ipam.listPools()).filter((p) => formatCidr(p.cidr) === poolCidr);
    const before = be.calls;
    const ms = await timeClaims(REPS, async (i) => {
      const r = await ipam.claimFreeBlock(`claimer-${existing}-${i}`, pool);
      if (r.kind !== 'claimed') throw new Error(`claim ${i} did not succeed: ${r.kind}`);
    });
    results[`claim@${existing}`] = { ms, calls: (be.calls - before) / REPS };
  }
  console.log('\nclaim a new block (mean of 20 claims, /29 blocks):');
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(11)} ${v.ms.toFixed(2).padStart(8)} ms/claim  ${v.calls.toFixed(1)} datastore calls/claim`);
  console.log(`  ratio 5000/1 blocks: ${(results['claim@5000'].ms / results['claim@1'].ms).toFixed(2)}x`);
  await store.close();
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  try {
    const be = new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] }));
    console.log(`etcd at ${etcd.endpoint}\nallocator processes (each allocates one IPv4 per pod, as CNI ADD does):`);
    const runs: [number, number, string][] = [
      [1, 200, '10.1.0.0/16'],
      [10, 40, '10.2.0.0/16'],
      [50, 12, '10.3.0.0/16'],
    ];
    const base: { rate: number; rtt: number }[] = [];
    for (const [procs, per, pool] of runs) {
      const t = await throughput(etcd.endpoint, be, procs, per, pool);
      base.push(t);
      console.log(`  ${String(procs).padStart(2)} process(es) × ${per}: ${t.rate.toFixed(0).padStart(5)} allocations/s, ${t.rtt.toFixed(2)} datastore round trips/allocation` +
        (base.length > 1 ? `  (rate ×${(t.rate / base[0].rate).toFixed(2)} vs 1 process)` : ''));
    }
    await be.close();
    await claimBench(etcd.endpoint);
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    await etcd.stop();
  }
}

main().catch((e: unknown) => {
  console.error(`bench/ipam: ${(e as Error).message}`);
  process.exit(1);
});
