// Benchmark: 20k routes programmed by felix's netlink driver vs `ip -batch`, in the same run,
// in a private namespace, ROUNDS rounds interleaved. Prints both sides' best and median and their
// ratios (target ≤ 1.2×). Run: npx tsx bench/felix-routes.ts [count]
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RouteDriver } from '../felix/dataplane/routes.js';
import type { DesiredRoute } from '../felix/calc/types.js';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20000);
const ROUNDS = 5;

function routes(n: number): DesiredRoute[] {
  const out: DesiredRoute[] = [];
  for (let i = 0; i < n; i++) out.push({ family: 4, dst: `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`, type: 'unicast', via: '10.0.0.2', kind: 'bgp' });
  return out;
}

async function inner(): Promise<void> {
  const want = routes(N);
  const d = new RouteDriver();
  const res: { driver: number[]; ipbatch: number[] } = { driver: [], ipbatch: [] };
  for (let round = 0; round < ROUNDS; round++) {
    let t = process.hrtime.bigint();
    const r = await d.apply(want);
    if (r.errors.length || r.added !== N) throw new Error(`driver: ${r.added} added, errors ${r.errors.slice(0, 3).join('; ')}`);
    res.driver.push(Number(process.hrtime.bigint() - t) / 1e6);
    await d.apply([]);
    const dir = mkdtempSync(join(tmpdir(), 'felix-bench-'));
    const file = join(dir, 'batch');
    writeFileSync(file, want.map((w) => `route add ${w.dst} via ${w.via} proto 80`).join('\n') + '\n');
    t = process.hrtime.bigint();
    execFileSync('ip', ['-batch', file]);
    res.ipbatch.push(Number(process.hrtime.bigint() - t) / 1e6);
    rmSync(dir, { recursive: true, force: true });
    await d.apply([]);
  }
  d.close();
  process.stdout.write(JSON.stringify(res));
}

function outer(): void {
  const tag = `tlbench${process.pid % 100000}`;
  const a = `${tag}a`;
  const b = `${tag}b`;
  try {
    execFileSync('ip', ['netns', 'add', a]);
    execFileSync('ip', ['netns', 'add', b]);
    execFileSync('ip', ['link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
    execFileSync('ip', ['netns', 'exec', a, 'sh', '-c', 'ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up && ip link set lo up']);
    execFileSync('ip', ['netns', 'exec', b, 'ip', 'link', 'set', 'eth0', 'up']);
    const self = fileURLToPath(import.meta.url);
    const argv = self.endsWith('.ts') ? ['--import', 'tsx', self] : [self];
    const out = execFileSync('ip', ['netns', 'exec', a, process.execPath, ...argv, '--inner', String(N)], { encoding: 'utf8' });
    const r = JSON.parse(out) as { driver: number[]; ipbatch: number[] };
    const best = (xs: number[]): number => Math.min(...xs);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
    const f = (x: number): string => `${x.toFixed(0)} ms`;
    process.stdout.write(
      `${N} routes, ${ROUNDS} rounds interleaved: felix netlink driver best ${f(best(r.driver))} median ${f(median(r.driver))}; ` +
        `ip -batch best ${f(best(r.ipbatch))} median ${f(median(r.ipbatch))}; ratio best ${(best(r.driver) / best(r.ipbatch)).toFixed(2)}x median ${(median(r.driver) / median(r.ipbatch)).toFixed(2)}x\n`,
    );
  } finally {
    execFileSync('ip', ['netns', 'del', a], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', b], { stdio: 'ignore' });
  }
}

if (process.argv.includes('--inner')) void inner();
else outer();
