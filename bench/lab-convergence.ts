// Benchmark: pod ADD → a route to the pod present on every other node, in a 10-node lab (tortie-node
// with the BGP full mesh, pods through the real CNI plugin). For each pod: t0 = CNI ADD starts;
// done = the ADD has returned and each of the other 9 hosts has a proto-80 route covering the pod's
// address (`ip monitor route` on every host timestamps arrivals). A pod in a block its host already
// announced needs no new remote route; the first pod of a node's block waits for BGP. The reference,
// measured in the same run, is the CNI ADD alone; the ratio is convergence / ADD.
// With --rr N the mesh is off and every node peers with N tortie-rr reflectors instead. At the end,
// tortie-node's own convergence histograms (WorkloadEndpoint seen → route programmed on its host;
// BGP route learned → programmed), scraped from every node: the worst node's p50 / p99 bucket.
// `--datastore etcdv3,kubernetes` runs a lab on each datastore back to back (the Kubernetes one with
// kube-apiserver beside etcd, as `tortie-lab up --datastore kubernetes`) and prints the ratio.
// Run (root, after `npm run build` to measure the compiled agents and plugins):
//   npx tsx bench/lab-convergence.ts [nodes=10] [podsPerNode=3] [--rr 2] [--datastore etcdv3,kubernetes]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ipaddr from 'ipaddr.js';

const rrAt = process.argv.indexOf('--rr');
const RR = rrAt > 0 ? Number(process.argv[rrAt + 1]) : 0;
const [nodesArg, podsArg] = process.argv.slice(2).filter((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--rr');
const NODES = Number(nodesArg ?? 10);
const PODS_PER_NODE = Number(podsArg ?? 3);
const dsIdx = process.argv.indexOf('--datastore');
const DATASTORES = (dsIdx >= 0 ? (process.argv[dsIdx + 1] ?? '') : 'etcdv3').split(',') as ('etcdv3' | 'kubernetes')[];
for (const d of DATASTORES) if (d !== 'etcdv3' && d !== 'kubernetes') throw new Error(`--datastore: unknown datastore ${JSON.stringify(d)} (etcdv3, kubernetes)`);
process.env.TORTIE_LAB_PREFIX = `tlb${process.pid % 10000}-`;
process.env.TORTIE_LAB_STATE = mkdtempSync(join(tmpdir(), 'tortie-bench-lab-'));

// Imported after the environment is set: the lab reads its prefix and state dir from it. The built
// lab when there is one (agents and CNI plugins then run compiled, as `make demo` runs them), else
// the sources under tsx (slower process start-up, so larger ADD times).
const built = fileURLToPath(new URL('../dist/lab/topology.js', import.meta.url));
const fromLab = async <T>(name: string): Promise<T> => {
  const compiled = fileURLToPath(new URL(`../dist/lab/${name}.js`, import.meta.url));
  return (await import(existsSync(built) ? pathToFileURL(compiled).href : `../lab/${name}.js`)) as T;
};
const { addPod, down, up } = await fromLab<typeof import('../lab/topology.js')>('topology');
const { addReflectors } = await fromLab<typeof import('../lab/rr.js')>('rr');
const { collectStatus, quantilesText } = await fromLab<typeof import('../lab/status.js')>('status');
process.stdout.write(`lab from ${existsSync(built) ? 'dist/ (built)' : 'sources (tsx)'}\n`);

interface Route {
  net: [ipaddr.IPv4 | ipaddr.IPv6, number];
  at: number;
}

/** The proto-80 routes a host holds, kept current by `ip monitor route`, with arrival times. */
class RouteWatch {
  readonly routes = new Map<string, Route>();
  private readonly proc: ChildProcess;
  private buf = '';
  private waiters: Array<() => void> = [];

  constructor(ns: string) {
    this.proc = spawn('ip', ['-n', ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc.stdout?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      const lines = this.buf.split('\n');
      this.buf = lines.pop() ?? '';
      for (const l of lines) this.line(l, performance.now());
    });
    // What is there already (arrived "at 0"); the monitor then reports every change.
    for (const l of execFileSync('ip', ['-n', ns, 'route', 'show', 'proto', '80'], { encoding: 'utf8' }).split('\n')) if (l) this.line(`${l.trim()} proto 80`, 0);
  }

  private line(l: string, at: number): void {
    if (!/ proto 80\b/.test(l)) return;
    const deleted = l.startsWith('Deleted ');
    const body = deleted ? l.slice(8) : l;
    const dst = body.split(' ')[0] === 'blackhole' ? body.split(' ')[1] : body.split(' ')[0];
    if (!dst) return;
    if (deleted) this.routes.delete(dst);
    else if (!this.routes.has(dst)) this.routes.set(dst, { net: ipaddr.parseCIDR(dst.includes('/') ? dst : `${dst}/32`), at });
    for (const w of this.waiters.splice(0)) w();
  }

  /** When a route covering ip arrived (the earliest such route), or undefined. */
  covering(ip: string): number | undefined {
    const a = ipaddr.parse(ip);
    let best: number | undefined;
    for (const r of this.routes.values()) if (a.kind() === r.net[0].kind() && a.match(r.net)) best = best === undefined ? r.at : Math.min(best, r.at);
    return best;
  }

  async waitCovering(ip: string, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = this.covering(ip);
      if (at !== undefined) return at;
      if (performance.now() > deadline) throw new Error(`no route to ${ip} after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms (n=${xs.length})`;

const watches: RouteWatch[] = [];
const convP50 = new Map<string, number>();
try {
for (const datastore of DATASTORES) {
  const t0 = performance.now();
  const s = await up({ nodes: NODES, subnets: 1, encap: 'none', crossSubnet: false, natOutgoing: true, podsPerNode: 0, mode: 'agent', log: () => undefined, datastore });
  if (RR > 0) await addReflectors(s, RR, () => undefined);
  process.stdout.write(`lab on ${datastore}: ${NODES} nodes${RR > 0 ? ` and ${RR} route reflectors (no mesh)` : ', BGP full mesh'} up and ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const loadBefore = loadavg();
  const byNode = new Map(s.nodes.map((n) => [n.name, new RouteWatch(n.ns)]));
  watches.push(...byNode.values());
  await new Promise((r) => setTimeout(r, 500)); // the monitors are listening
  const add: number[] = [];
  const conv: number[] = [];
  const convFirst: number[] = [];
  const arrive: number[] = [];
  for (let k = 1; k <= PODS_PER_NODE; k++) {
    for (const node of s.nodes) {
      // The CNI ADD's own start and end: on the Kubernetes datastore the lab also does kubelet's part
      // around it (create the Pod, record its status, each a kubectl run), which is not the ADD's.
      let start = performance.now();
      let added = 0;
      const pod = await addPod(s, { name: `bench-${node.name}-${k}`, namespace: 'default', node: node.name, labels: {} }, true, (a, b) => {
        start = a;
        added = b;
      });
      added ||= performance.now(); // a lab without the plugins: the whole call
      let arrived = 0;
      for (const [name, w] of byNode) if (name !== node.name) arrived = Math.max(arrived, await w.waitCovering(pod.ip, 120_000));
      add.push(added - start);
      conv.push(Math.max(added, arrived) - start);
      if (k === 1) {
        convFirst.push(Math.max(added, arrived) - start);
        // The new block's route on the last of the other hosts, whether or not the ADD had returned.
        arrive.push(arrived - start);
      }
    }
  }
  const addP50 = pct(add, 50);
  process.stdout.write(`CNI ADD alone (reference):            ${fmt(add)}\n`);
  process.stdout.write(`ADD → route on all ${NODES - 1} other nodes:     ${fmt(conv)}; ratio p50 ${(pct(conv, 50) / addP50).toFixed(2)}x of ADD\n`);
  process.stdout.write(`  first pod of a node (BGP announce): ${fmt(convFirst)}; ratio p50 ${(pct(convFirst, 50) / addP50).toFixed(2)}x of ADD\n`);
  process.stdout.write(`  its block route on the last other node, from ADD start: ${fmt(arrive)}; ratio p50 ${(pct(arrive, 50) / addP50).toFixed(2)}x of ADD\n`);
  // The agents' histograms: each node's p50 / p99 bucket; the slowest node's shown with the total count.
  const st = await collectStatus(s);
  for (const [key, what] of [['endpoint', 'own pod seen → route programmed'], ['bgp', 'BGP route learned → programmed']] as const) {
    const qs = st.nodes.map((n) => n.convergence?.[key]).filter((q) => q !== undefined);
    const worst = qs.reduce((a, b) => (b.p99 > a.p99 || (b.p99 === a.p99 && b.p50 > a.p50) ? b : a), qs[0]!);
    process.stdout.write(`tortie-node ${what}: slowest node ${qs.length ? quantilesText(worst) : '-'}; ${qs.reduce((n, q) => n + q.count, 0)} observations on ${qs.length} nodes\n`);
  }
  process.stdout.write(`load average before the pods ${loadBefore}, after ${loadavg()} (2 cores)\n`);
  convP50.set(datastore, pct(conv, 50));
  for (const w of watches.splice(0)) w.close();
  await down(() => undefined);
}
if (convP50.size === 2) process.stdout.write(`ADD → route on every node, p50 kubernetes/etcdv3: ${((convP50.get('kubernetes') ?? NaN) / (convP50.get('etcdv3') ?? NaN)).toFixed(2)}x\n`);
} finally {
  for (const w of watches) w.close();
  await down(() => undefined);
  rmSync(process.env.TORTIE_LAB_STATE, { recursive: true, force: true });
}
