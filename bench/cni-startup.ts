// CNI plugin start-up cost: wall time of `tortie` / `tortie-ipam` for CNI_COMMAND=VERSION, of a
// `tortie-ipam` ADD alone and of a full `tortie` ADD / DEL without a tortie-node (the plugin's own
// datastore path; builds from before the CNI socket exec `tortie-ipam`), run the way a
// runtime runs them — compiled, inside a host namespace with etcd — against `node -e 0` measured in
// the same run as the reference, plus the CPU seconds each command's process tree used (GNU time:
// less sensitive than wall time to load from other jobs) and how many module files each loads
// (distinct .js/.json files opened, by strace). Given several builds (--dist DIR, repeatable; default ./dist) they are measured
// interleaved in one run and compared with the first. As root, after `npm run build`:
//   npx tsx bench/cni-startup.ts [runs=9] [--dist OLD_DIST --dist dist]
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execPlugin, startEtcdIn } from '../test/e2e/cni-helpers.js';
import type { EtcdServer } from '../test/harness/etcd.js';
import { NetnsSet } from '../test/harness/netns.js';

const ROOT = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const DISTS = args.flatMap((a, i) => (args[i - 1] === '--dist' ? [resolve(a)] : []));
if (!DISTS.length) DISTS.push(join(ROOT, 'dist'));
const RUNS = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--dist') ?? 9);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (xs: number[]): string => `median ${median(xs).toFixed(0).padStart(5)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

const SERIES = ['tortie VERSION', 'tortie-ipam VERSION', 'tortie-ipam ADD alone', 'tortie ADD (no agent)', 'tortie DEL (no agent)'] as const;
type Series = (typeof SERIES)[number];

async function main(): Promise<void> {
  const nets = new NetnsSet('cb');
  let etcd: EtcdServer | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'tortie-cni-bench-'));
  try {
    chmodSync(tmp, 0o755);
    // One CNI_PATH per build, each holding that build's two plugins.
    const binDirs = DISTS.map((dist, d) => {
      const dir = join(tmp, `bin${d}`);
      mkdirSync(dir, { mode: 0o755 });
      for (const name of ['tortie', 'tortie-ipam']) {
        // With BENCH_CPU set, GNU time appends "user sys" of the process and the children it waited
        // for (tortie waits for tortie-ipam): the outer process writes the last line.
        const run = `${process.execPath} ${join(dist, 'cni', `${name}.js`)}`;
        writeFileSync(join(dir, name), `#!/bin/sh\nif [ -n "$BENCH_CPU" ]; then exec /usr/bin/time -a -o "$BENCH_CPU" -f '%U %S' ${run}; fi\nexec ${run}\n`);
        chmodSync(join(dir, name), 0o755);
      }
      return dir;
    });
    const host = await nets.add('host');
    await nets.exec(host, ['ip', 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
    await nets.exec(host, ['ip', 'link', 'set', 'uplink0', 'up']);
    await nets.exec(host, ['ip', 'link', 'set', 'uplink1', 'up']);
    await nets.exec(host, ['ip', 'route', 'add', 'default', 'dev', 'uplink0']);
    const started = await startEtcdIn(nets, host);
    etcd = started.etcd;
    await started.etcdctl([
      'put',
      '/calico/resources/v3/projectcalico.org/ippools/bench-pool',
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'bench-pool' }, spec: { cidr: '10.245.0.0/16', blockSize: 26 } }),
    ]);
    // No agent answers at agent_socket: this measures the plugins' own path (bench/cni-add.ts the agent's).
    const conf = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', etcd_endpoints: 'http://127.0.0.1:2379', nodename: 'bench-node', agent_socket: join(tmp, 'no-agent.sock'), ipam: { type: 'tortie-ipam' } };
    const cniEnv = (bin: string, command: string, cid = '', netns = ''): Record<string, string> => ({ CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: bin });
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await f();
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const ok = async (r: Promise<{ code: number; raw: string }>): Promise<void> => {
      const x = await r;
      if (x.code !== 0) throw new Error(`plugin failed: ${x.raw}`);
    };
    const cpuFile = join(tmp, 'cpu.txt');
    const plugin = (bin: string, name: string, command: string, cid = '', netns = '', cpu?: number[]): Promise<void> => {
      if (!cpu) return ok(execPlugin(host, join(bin, name), cniEnv(bin, command, cid, netns), conf));
      writeFileSync(cpuFile, '');
      return ok(execPlugin(host, join(bin, name), { ...cniEnv(bin, command, cid, netns), BENCH_CPU: cpuFile }, conf)).then(() => {
        const last = readFileSync(cpuFile, 'utf8').trim().split('\n').pop() ?? '';
        const [u, sy] = last.split(' ').map(Number);
        cpu.push(((u ?? NaN) + (sy ?? NaN)) * 1000);
      });
    };

    const count = async (dist: string, bin: string, name: string, command: string, cid = ''): Promise<string> => {
      const trace = join(tmp, 'trace.txt');
      const env = Object.entries(cniEnv(bin, command, cid, '/var/run/netns/none')).map(([k, v]) => `${k}=${v}`);
      await nets.exec(host, ['env', ...env, 'strace', '-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, join(dist, 'cni', `${name}.js`)], JSON.stringify(conf)).catch(() => undefined);
      try {
        const files = new Set(readFileSync(trace, 'utf8').split('\n').filter((l) => !l.includes('ENOENT')).flatMap((l) => /"([^"]+\.(?:js|mjs|cjs|json))"/.exec(l)?.[1] ?? []));
        return String(files.size);
      } catch {
        return '? (no strace)';
      }
    };

    const ref: number[] = [];
    const refCpu: number[] = [];
    const res = DISTS.map(() => new Map<Series, number[]>(SERIES.map((s) => [s, []])));
    const cpu = DISTS.map(() => new Map<Series, number[]>(SERIES.map((s) => [s, []])));
    const push = (d: number, s: Series, v: number): void => void res[d]?.get(s)?.push(v);
    const cpuOf = (d: number, s: Series): number[] => cpu[d]?.get(s) ?? [];
    for (let i = 0; i < RUNS; i++) {
      // Interleaved so that load from other jobs hits every series and every build alike.
      ref.push(await timed(() => nets.exec(host, [process.execPath, '-e', '0'])));
      const t = (await nets.exec(host, ['/usr/bin/time', '-f', '%U %S', process.execPath, '-e', '0'])).stderr.trim().split(' ').map(Number);
      refCpu.push(((t[0] ?? NaN) + (t[1] ?? NaN)) * 1000);
      for (const [d, bin] of binDirs.entries()) {
        push(d, 'tortie VERSION', await timed(() => plugin(bin, 'tortie', 'VERSION')));
        push(d, 'tortie-ipam VERSION', await timed(() => plugin(bin, 'tortie-ipam', 'VERSION')));
        const icid = `benchipam${process.pid}x${d}x${i}`;
        push(d, 'tortie-ipam ADD alone', await timed(() => plugin(bin, 'tortie-ipam', 'ADD', icid, '/var/run/netns/none')));
        await plugin(bin, 'tortie-ipam', 'DEL', icid, '/var/run/netns/none');
        const ns = await nets.add(`p${d}x${i}`);
        const cid = `bench${process.pid}x${d}x${i}`;
        push(d, 'tortie ADD (no agent)', await timed(() => plugin(bin, 'tortie', 'ADD', cid, `/var/run/netns/${ns}`)));
        push(d, 'tortie DEL (no agent)', await timed(() => plugin(bin, 'tortie', 'DEL', cid, `/var/run/netns/${ns}`)));
        // CPU, in runs of their own (GNU time's wrapper is not in the wall-time figures).
        await plugin(bin, 'tortie', 'VERSION', '', '', cpuOf(d, 'tortie VERSION'));
        await plugin(bin, 'tortie-ipam', 'VERSION', '', '', cpuOf(d, 'tortie-ipam VERSION'));
        await plugin(bin, 'tortie-ipam', 'ADD', `${icid}c`, '/var/run/netns/none', cpuOf(d, 'tortie-ipam ADD alone'));
        await plugin(bin, 'tortie-ipam', 'DEL', `${icid}c`, '/var/run/netns/none');
        await plugin(bin, 'tortie', 'ADD', `${cid}c`, `/var/run/netns/${ns}`, cpuOf(d, 'tortie ADD (no agent)'));
        await plugin(bin, 'tortie', 'DEL', `${cid}c`, `/var/run/netns/${ns}`, cpuOf(d, 'tortie DEL (no agent)'));
      }
    }
    const r = median(ref);
    console.log(`${RUNS} runs each, builds interleaved; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`node -e 0 (reference)         ${fmt(ref)}; CPU ${median(refCpu).toFixed(0)} ms`);
    for (const [d, dist] of DISTS.entries()) {
      const bin = binDirs[d] ?? '';
      const cid = `bench${process.pid}count${d}`;
      const mods = [await count(dist, bin, 'tortie', 'VERSION'), await count(dist, bin, 'tortie-ipam', 'VERSION'), await count(dist, bin, 'tortie-ipam', 'ADD', cid)];
      await plugin(bin, 'tortie-ipam', 'DEL', cid, '/var/run/netns/none');
      console.log(`\n${dist}`);
      for (const s of SERIES) {
        const xs = res[d]?.get(s) ?? [];
        const first = median(res[0]?.get(s) ?? []);
        const c = median(cpuOf(d, s));
        const c0 = median(cpuOf(0, s));
        console.log(
          `  ${s.padEnd(28)}${fmt(xs)}  ${(median(xs) / r).toFixed(2)}× reference${d > 0 ? `, ${(median(xs) / first).toFixed(2)}× the first build` : ''}; CPU ${c.toFixed(0)} ms${d > 0 ? ` (${(c / c0).toFixed(2)}×)` : ''}`,
        );
      }
      console.log(`  module files loaded: tortie VERSION ${mods[0]}, tortie-ipam VERSION ${mods[1]}, tortie-ipam ADD ${mods[2]}`);
    }
  } finally {
    await etcd?.stop();
    await nets.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
