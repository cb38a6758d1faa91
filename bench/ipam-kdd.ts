// IPAM allocation rate on the Kubernetes datastore next to etcd, in one run: one private
// kube-apiserver with Calico's CRDs, and its own etcd as the etcd datastore (Calico's keys beside
// the apiserver's /registry), so both sides share the machine, the etcd and the load.
// Each host is one tortie-node: its own datastore connection and IpamClient, its CNI ADDs in the
// agent's line for block writes (cni/block-queue.ts), `--concurrency` of them in flight per host
// (1: one pod at a time; more: a burst, whose queued ADDs share block writes), hosts in parallel.
// An allocation is what the agent does for an ADD: DirectStore.assign (held? → autoAssign of one IPv4).
//
//   npx tsx bench/ipam-kdd.ts [--datastore etcd,kubernetes] [--hosts 5] [--per-host 40] [--concurrency 1] [--repeat 2]
// Prints allocations/s, datastore calls per allocation (by kind and operation), CPU per allocation
// (this process, kube-apiserver, etcd) and the ratios kubernetes/etcd over all repeats; state the
// load (uptime) beside the figures.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { EtcdStore } from '../datastore/backends/etcd-store.js';
import { KubernetesStore } from '../datastore/backends/kubernetes/store.js';
import type { Store } from '../datastore/store.js';
import { BlockWriteQueue } from '../cni/block-queue.js';
import { DirectStore } from '../cni/direct-store.js';
import { IPAM_CONFIG_KINDS, IpamClient } from '../ipam/allocator.js';
import { putPool } from '../ipam/testing.js';
import { startKubeWithCalicoCrds } from '../test/harness/kube-store.js';
import { manifestAccount } from '../test/harness/manifest-account.js';
import { CountingStore } from '../test/harness/counting-store.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const DATASTORES = arg('datastore', 'etcd,kubernetes').split(',');
const HOSTS = Number(arg('hosts', '5'));
const PER_HOST = Number(arg('per-host', '40'));
const REPEAT = Number(arg('repeat', '2'));
const CONCURRENCY = Number(arg('concurrency', '1'));
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error(`--concurrency: a whole number ≥ 1, not ${JSON.stringify(arg('concurrency', ''))}`);
/** --profile: the mean wait per call of each kind beside its count. */
const PROFILE = args.includes('--profile');
for (const d of DATASTORES) if (d !== 'etcd' && d !== 'kubernetes') throw new Error(`--datastore: unknown datastore ${JSON.stringify(d)} (etcd, kubernetes)`);

interface Result {
  allocations: number;
  seconds: number;
  calls: number;
  byOp: Map<string, number>;
  msByOp: Map<string, number>;
  /** CPU seconds over the measured ADDs: this process (every host's client) and each server child by name. */
  cpu: Map<string, number>;
}

/** Clock ticks per second, the unit of /proc/PID/stat's CPU times. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;

/** CPU seconds (user + system) so far of this process ("client") and of its children by name (kube-apiserver, etcd). */
function cpuNow(): Map<string, number> {
  const { user, system } = process.cpuUsage();
  const out = new Map<string, number>([['client', (user + system) / 1e6]]);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state, ppid, …; utime and stime are the 12th and 13th, in clock ticks.
    if (Number(f[1]) !== process.pid) continue;
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK);
  }
  return out;
}

const cpuSince = (before: Map<string, number>): Map<string, number> => new Map([...cpuNow()].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

async function runOnce(open: () => Store, tag: string, poolCidr: string): Promise<Result> {
  const admin = open();
  await putPool(admin, `bench-${tag}`, { cidr: poolCidr, blockSize: 26 });
  const hosts = Array.from({ length: HOSTS }, (_, h) => {
    const store = new CountingStore(open());
    const ipam = new IpamClient(store);
    const line = new BlockWriteQueue(
      (deadline) => new DirectStore(store, ipam, deadline),
      (op) => new Error(`${op} waited past its deadline`),
    );
    return { name: `${tag}-h${h}`, store, line };
  });
  const assign = (h: (typeof hosts)[number], i: number): Promise<string[]> =>
    h.line.assign({ handle: `k8s-pod-network.${h.name}-${i}`, node: h.name, attrs: { node: h.name, pod: `p${i}`, namespace: 'default' }, num4: 1, num6: 0 }, Date.now() + 60_000);
  // Warm up: connections made, the host's first block claimed — a steady-state ADD is what is measured.
  await Promise.all(hosts.map((h) => assign(h, -1)));
  for (const h of hosts) {
    h.store.calls = 0;
    h.store.byOp.clear();
    h.store.msByOp.clear();
  }
  const cpu0 = cpuNow();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    hosts.map(async (h) => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < PER_HOST) await assign(h, next++);
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSince(cpu0);
  const byOp = new Map<string, number>();
  const msByOp = new Map<string, number>();
  for (const h of hosts) for (const [k, v] of h.store.byOp) byOp.set(k, (byOp.get(k) ?? 0) + v);
  for (const h of hosts) for (const [k, v] of h.store.msByOp) msByOp.set(k, (msByOp.get(k) ?? 0) + v);
  await Promise.all([admin.close(), ...hosts.map((h) => h.store.close())]);
  return { allocations: HOSTS * PER_HOST, seconds, calls: hosts.reduce((n, h) => n + h.store.calls, 0), byOp, msByOp, cpu };
}

const kube = await startKubeWithCalicoCrds();
try {
  // Hosts authenticate as tortie-node does in a cluster: its ServiceAccount's token, its RBAC.
  const nodeKubeconfig = await manifestAccount(kube, 'tortie.yaml', 'tortie-node');
  const openers: Record<string, () => Store> = {
    etcd: () => new EtcdStore(new EtcdBackend({ endpoints: [kube.etcd.endpoint] })),
    // As tortie-node opens it (node/main.ts): the pools and reservations kept watched.
    kubernetes: () => new KubernetesStore({ kubeconfig: nodeKubeconfig, timeoutMs: 30_000, watchCache: IPAM_CONFIG_KINDS }),
  };
  console.log(`IPAM allocations: ${HOSTS} hosts in parallel × ${PER_HOST} ADDs each (${CONCURRENCY === 1 ? 'one at a time' : `${CONCURRENCY} at a time`} per host), /26 blocks; load ${load()}`);
  const totals = new Map<string, { allocations: number; seconds: number }>();
  const cpuTotals = new Map<string, number>();
  let run = 0;
  for (let r = 0; r < REPEAT; r++) {
    for (const ds of DATASTORES) {
      const res = await runOnce(openers[ds], `${ds.slice(0, 4)}${r}`, `10.${100 + run++}.0.0/16`);
      const t = totals.get(ds) ?? { allocations: 0, seconds: 0 };
      totals.set(ds, { allocations: t.allocations + res.allocations, seconds: t.seconds + res.seconds });
      const ops = [...res.byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / res.allocations).toFixed(2)}${PROFILE ? ` @${((res.msByOp.get(k) ?? 0) / v).toFixed(1)}ms` : ''}`).join(', ');
      console.log(`  ${ds.padEnd(10)} ${(res.allocations / res.seconds).toFixed(0).padStart(5)} allocations/s, ${(res.calls / res.allocations).toFixed(2)} calls/allocation (${ops}); load ${load()}`);
      const cpuMs = [...res.cpu].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${((v * 1000) / res.allocations).toFixed(2)}`);
      const cpuTotal = [...res.cpu.values()].reduce((a, b) => a + b, 0);
      cpuTotals.set(ds, (cpuTotals.get(ds) ?? 0) + cpuTotal);
      console.log(`  ${''.padEnd(10)} CPU ms per allocation: ${((cpuTotal * 1000) / res.allocations).toFixed(2)} (${cpuMs.join(', ')})`);
    }
  }
  const rate = (ds: string): number => {
    const t = totals.get(ds);
    return t ? t.allocations / t.seconds : NaN;
  };
  if (totals.has('etcd') && totals.has('kubernetes')) {
    console.log(`ratio kubernetes/etcd: ${(rate('kubernetes') / rate('etcd')).toFixed(2)}× (${rate('kubernetes').toFixed(0)} vs ${rate('etcd').toFixed(0)} allocations/s over ${REPEAT} run(s) each)`);
    // Where the time goes: both datastores share this machine's cores, so the rate follows the CPU each allocation costs.
    const cpuPer = (ds: string): number => ((cpuTotals.get(ds) ?? 0) * 1000) / (totals.get(ds)?.allocations ?? 1);
    console.log(`CPU per allocation kubernetes/etcd: ${(cpuPer('kubernetes') / cpuPer('etcd')).toFixed(2)}× (${cpuPer('kubernetes').toFixed(2)} vs ${cpuPer('etcd').toFixed(2)} ms, client and servers together)`);
  }
} finally {
  await kube.stop();
}
