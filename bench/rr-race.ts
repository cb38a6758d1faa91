// bgperf-style route-reflector race in network namespaces (no Docker): the same workloads against
// three reflectors in one run — ours (bgp/cli.js from dist/), BIRD 2 and GoBGP 3 — with one BIRD
// process as the tester holding every client session (each from its own address, router id and
// routing table; in the k8s shape past --tester-max clients, several BIRD processes: a deviation
// from the issue, see k8sRun) and a gobgpd monitor (an RR client too) counting the prefixes
// it accepted, polled every 200 ms.
//
//   npm run build && node --import tsx bench/rr-race.ts [--fanin 10x10000] [--k8s 500,1000] [--churn-s 30]
//       [--impl tortie,bird,gobgp] [--rounds 1] [--held-after-s 10] [--fanin-timeout-s 1800] [--k8s-timeout-s 1800] [--tester-max 500]
//       [--tortie-node-args '--cpu-prof --cpu-prof-dir=/tmp/prof'] [--tortie-mrai-ms 50]
//       [--tortie-node-options '--max-semi-space-size=4' (tortie-rr's, rr/env.ts; '' for Node's defaults)]
//   (--fanin 0x0 skips fan-in / churn / withdraw; --k8s '' skips the k8s shape)
//
// Scenarios, each measured on the reflector process (CPU from /proc/PID/stat, peak RSS = VmHWM):
//   fan-in      C clients × P unique /32 each → time until the monitor holds all C×P; its
//               memory per route then, and again after --held-after-s seconds idle;
//   withdraw    every client withdraws everything → time until the monitor holds none;
//   churn       10 % of the routes flap (disable/enable every second) for --churn-s seconds →
//               reflector CPU seconds over the window, and time to settle afterwards;
//   k8s N       N clients × one /26 each → time until every client holds every other client's /26.
// The tester's and monitor's CPU over the same windows are printed too: if they rival the
// reflector's, the harness, not the reflector, sets the elapsed time.
//
// SIGINT / SIGTERM or an error at any point kills every daemon, deletes the namespaces, removes
// the temp dirs (tortie-bird-*, tortie-gobgp-*, tortie-rrbench-*) and, if no other run still
// holds them raised, restores the host's neighbour-table limits before exiting.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { BgpLab, type LabMember } from '../test/harness/bgp-lab.js';
import { Bird } from '../test/harness/bird.js';
import { NetnsDaemon, removeTempDir, stopAll, tempDir, waitFor } from '../test/harness/daemon.js';
import { run } from '../test/harness/exec.js';
import { Gobgp } from '../test/harness/gobgp.js';
import { raiseNeighLimits, restoreNeighLimits } from './rr-race/neigh-limits.js';
import { birdRr, clientIp, FAN_BITS, fanPrefix, gobgpRr, k8sBlock, MONITOR, rrSideIp, testerConfig, tortieRr, type Impl } from './rr-race/plan.js';
import { harnessCpu, harnessDelta, k8sConverged, monitorCount, nsUsage, probeMax, until, type Sample } from './rr-race/probes.js';
import { table } from './rr-race/table.js';
import { RR_DEFAULT_MRAI_MS, RR_NODE_OPTIONS } from '../rr/env.js';

// The checkout: bench/ from tsx, dist/bench/ when built.
const ROOT = [resolve(import.meta.dirname, '..'), resolve(import.meta.dirname, '../..')].find((d) => existsSync(join(d, 'package.json'))) ?? '.';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const [FAN_C, FAN_P] = opt('--fanin', '10x10000').split('x').map(Number);
const K8S = opt('--k8s', '500').split(',').filter(Boolean).map(Number);
if (FAN_P > 1 << FAN_BITS || 100 + ((FAN_C << FAN_BITS) >> 16) > 128) {
  process.stderr.write(`rr-race: --fanin ${FAN_C}x${FAN_P} does not fit 10.100.0.0–10.127.255.255 (at most ${1 << FAN_BITS} routes per client, 14 clients)\n`);
  process.exit(2);
}
const CHURN_S = Number(opt('--churn-s', '30'));
/** Seconds idle after the fan-in before its memory is read again (0: not at all). */
const HELD_S = Number(opt('--held-after-s', '10'));
// Tester and monitor are polled at the slowest step the issue allows: each poll spawns a CLI and
// makes the daemon walk or format its state, on a 2-core machine that also runs the reflector.
const POLL_MS = 200;
const FAN_TIMEOUT_S = Number(opt('--fanin-timeout-s', '1800'));
const K8S_TIMEOUT_S = Number(opt('--k8s-timeout-s', '1800'));
/** Clients per tester BIRD process in the k8s shape (one process up to this many). */
const TESTER_MAX = Number(opt('--tester-max', '500'));
const IMPLS = opt('--impl', 'tortie,bird,gobgp').split(',') as Impl[];
/** Every shape this many times, each reflector in turn: cells are then median (min–max), ratios of medians. */
const ROUNDS = Number(opt('--rounds', '1'));
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`rr-race: --rounds ${opt('--rounds', '1')}: a whole number of rounds, at least 1\n`);
  process.exit(2);
}
/** Our reflector's minimum route advertisement interval, ms: tortie-rr's default unless given (0 sends every batch at once, as BIRD does). */
const TORTIE_MRAI_MS = Number(opt('--tortie-mrai-ms', String(RR_DEFAULT_MRAI_MS)));
/** Extra node options for our reflector (profiling: --cpu-prof, --heap-prof); it is then stopped with SIGTERM so they are written. */
const TORTIE_NODE_ARGS = opt('--tortie-node-args', '').split(' ').filter(Boolean);
/** The node options tortie-rr runs with (rr/env.ts), unless given ('' : Node's defaults). */
const TORTIE_NODE_OPTIONS = opt('--tortie-node-options', RR_NODE_OPTIONS.join(' ')).split(' ').filter(Boolean);

interface Reflector {
  stop(): Promise<void>;
}

async function startReflector(impl: Impl, ns: string, clients: number): Promise<Reflector> {
  if (impl === 'bird') {
    const b = await Bird.start(ns, birdRr(clients));
    return { stop: () => b.stop() };
  }
  if (impl === 'gobgp') {
    const g = await Gobgp.start(ns, gobgpRr(clients), 50061);
    return { stop: () => g.stop() };
  }
  const cli = join(ROOT, 'dist/bgp/cli.js');
  if (!existsSync(cli)) throw new Error('dist/bgp/cli.js missing: run `npm run build` first');
  const dir = tempDir('tortie-rrbench-');
  const conf = join(dir, 'rr.json');
  writeFileSync(conf, tortieRr(clients, TORTIE_MRAI_MS));
  const d = new NetnsDaemon(ns, [process.execPath, ...TORTIE_NODE_OPTIONS, ...TORTIE_NODE_ARGS, cli, conf], join(dir, 'rr.log'));
  const stop = async (): Promise<void> => {
    await d.kill(TORTIE_NODE_ARGS.length ? 'SIGTERM' : 'SIGKILL');
    removeTempDir(dir);
  };
  d.start();
  // Listening once the port answers from inside the namespace.
  try {
    await waitFor('tortie reflector listening', async () => {
      if (!d.running) throw new Error(`tortie reflector exited: ${readFileSync(join(dir, 'rr.log'), 'utf8').slice(-1500)}`);
      const r = await run('ip', ['netns', 'exec', ns, 'ss', '-ltn', 'sport = :179']);
      return r.stdout.includes(':179') ? true : undefined;
    }, 30_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

// ---- tester (one BIRD holding every client session) and monitor

// ---- scenarios

/** Fan-in, then churn, then withdraw-all; each result goes to `put` as soon as it is measured, so a later step cut short loses nothing. */
async function fanInSuite(impl: Impl, rrNs: string, testerNs: string, monNs: string, put: (name: string, s: Sample) => void): Promise<void> {
  const total = FAN_C * FAN_P;
  const routes = Array.from({ length: FAN_C }, (_, c) => Array.from({ length: FAN_P }, (_, i) => fanPrefix(c, i)));
  const rr = await startReflector(impl, rrNs, FAN_C);
  let mon: Gobgp | undefined;
  let tester: Bird | undefined;
  try {
    // The monitor only (the reflector, GoBGP included, is already running with the defaults): at
    // 10⁶ routes its heap passes 700 MB of pointers and Go's collector, at GOGC=100, took most of
    // its CPU (perf: about half in GC marking, ingest slowing to 700 µs per route); collecting at
    // 4× growth instead trades memory, which the bench does not measure for the monitor.
    process.env.GOGC = '400';
    try {
      mon = await Gobgp.start(monNs, MONITOR, 50062);
    } finally {
      delete process.env.GOGC;
    }
    const m = mon;
    await m.waitEstablished('10.95.0.1', 60_000, 200);
    const base = await nsUsage(rrNs);
    let h = await harnessCpu(testerNs, monNs);
    const t0 = performance.now();
    tester = await Bird.start(testerNs, testerConfig(routes, false, 0.1));
    await waitFor(`monitor holds ${total}`, async () => ((await monitorCount(m)) >= total ? true : undefined), FAN_TIMEOUT_S * 1000, POLL_MS);
    const elapsed = (performance.now() - t0) / 1000;
    let u = await nsUsage(rrNs);
    const fanIn: Sample = { elapsed, cpu: u.cpu - base.cpu, peakRss: u.hwm, fileRss: u.fileRss, bytesPerRoute: (u.rss - base.rss) / total, ...(await harnessDelta(h)) };
    put(`fan-in ${FAN_C}×${FAN_P}`, fanIn);
    // Read again after a quiet spell: whether the burst's garbage and heap growth are given back
    // or kept (V8 keeps them: README, "Where the memory goes").
    if (HELD_S > 0) {
      await new Promise((r) => setTimeout(r, HELD_S * 1000));
      u = await nsUsage(rrNs);
      put(`fan-in ${FAN_C}×${FAN_P}`, { ...fanIn, heldBytesPerRoute: (u.rss - base.rss) / total });
    }

    // churn: the 10 % in the f* protocols flap every second.
    let c0 = u.cpu;
    for (let s = 0; s < CHURN_S; s++) {
      await tester.cmd(`${s % 2 ? 'enable' : 'disable'} "f*"`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await tester.cmd('enable "f*"');
    const settle = await until('monitor back to the full table', async () => (await monitorCount(m)) === total, FAN_TIMEOUT_S * 1000, POLL_MS);
    u = await nsUsage(rrNs);
    put(`churn 10% for ${CHURN_S}s (settle)`, { elapsed: settle, cpu: u.cpu - c0, peakRss: u.hwm });
    h = await harnessCpu(testerNs, monNs);

    // withdraw-all: the tester drops every route.
    c0 = u.cpu;
    const tw = performance.now();
    await tester.reconfigure(testerConfig(routes.map(() => []), false));
    await waitFor('monitor empty', async () => ((await monitorCount(m)) === 0 ? true : undefined), FAN_TIMEOUT_S * 1000, POLL_MS);
    const welapsed = (performance.now() - tw) / 1000;
    u = await nsUsage(rrNs);
    put(`withdraw-all ${total}`, { elapsed: welapsed, cpu: u.cpu - c0, peakRss: u.hwm, ...(await harnessDelta(h)) });
  } finally {
    await tester?.stop();
    await mon?.stop();
    await rr.stop();
  }
}

async function k8sRun(impl: Impl, n: number, rrNs: string, testerNs: string): Promise<Sample> {
  const rr = await startReflector(impl, rrNs, n);
  const testers: Bird[] = [];
  try {
    const base = await nsUsage(rrNs);
    const tBase = await nsUsage(testerNs);
    // BIRD 2 polls every session's socket on each pass of its one main loop, so one tester's work
    // grows with sessions × passes: past TESTER_MAX clients the sessions are split over several
    // BIRD processes in the same namespace (an honest deviation from "one BIRD process").
    const parts = Math.ceil(n / TESTER_MAX);
    const size = Math.ceil(n / parts);
    const t0 = performance.now();
    for (let k = 0; k < parts; k++) {
      const first = k * size;
      const blocks = Array.from({ length: Math.min(size, n - first) }, (_, j) => [k8sBlock(first + j)]);
      testers.push(await Bird.start(testerNs, testerConfig(blocks, true, 0, first, k)));
    }
    await waitFor(`every client holds every other /26 (${n * (n - 1)} routes)`, async () => ((await k8sConverged(testers, n)) ? true : undefined), K8S_TIMEOUT_S * 1000, POLL_MS);
    const elapsed = (performance.now() - t0) / 1000;
    const u = await nsUsage(rrNs);
    const tu = await nsUsage(testerNs);
    return { elapsed, cpu: u.cpu - base.cpu, peakRss: u.hwm, fileRss: u.fileRss, bytesPerRoute: (u.rss - base.rss) / n, testerCpu: tu.cpu - tBase.cpu };
  } finally {
    for (const t of testers) await t.stop();
    await rr.stop();
  }
}

// Every way out (normal end, error, SIGINT / SIGTERM) awaits this one cleanup before exiting, so a
// signal arriving while an error unwinds (or the reverse) never exits half-way through it.
let labMade: Promise<BgpLab> | undefined;
let cleaning: Promise<void> | undefined;
let interrupted: NodeJS.Signals | undefined;
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    await stopAll();
    restoreNeighLimits();
    // A lab still being built is waited for, so its namespaces are deleted too (a failed build cleans up after itself).
    const lab = await labMade?.catch(() => undefined);
    await lab?.cleanup();
  })());

async function bail(code: number, msg?: string): Promise<never> {
  if (msg) process.stderr.write(msg);
  await cleanup();
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    process.stderr.write(`rr-race: ${sig}, cleaning up\n`);
    void bail(sig === 'SIGINT' ? 130 : 143);
  });
}
process.on('uncaughtException', (err) => void bail(1, `rr-race: ${err.stack ?? String(err)}\n`));
process.on('unhandledRejection', (err) => void bail(1, `rr-race: ${err instanceof Error ? err.stack : String(err)}\n`));

async function main(): Promise<void> {
  labMade = BgpLab.create({ label: 'rrb', members: 3, v4Base: '10.95.0', v6Base: 'fd95::' });
  const lab = await labMade;
  const results = new Map<string, Map<Impl, Sample[]>>();
  const put = (name: string, impl: Impl, s: Sample): void => {
    const byImpl = results.get(name) ?? new Map<Impl, Sample[]>();
    results.set(name, byImpl);
    byImpl.set(impl, [...(byImpl.get(impl) ?? []), s]);
    // Partial results as they come, in case a large size is cut short.
    process.stderr.write(`${table(results)}\nslowest probe so far: tester ${probeMax.tester.toFixed(0)} ms, monitor ${probeMax.monitor.toFixed(0)} ms\n`);
  };
  try {
    const [rr, tester, mon] = lab.members as [LabMember, LabMember, LabMember];
    const maxClients = Math.max(FAN_C, ...K8S);
    raiseNeighLimits(maxClients);
    const addrs = async (ns: string, ip: (i: number) => string): Promise<void> => {
      const batch = Array.from({ length: maxClients }, (_, i) => `addr add ${ip(i)}/16 dev eth0`).join('\n');
      await run('ip', ['netns', 'exec', ns, 'ip', '-batch', '-'], { input: `${batch}\n` });
    };
    await addrs(tester.ns, clientIp);
    await addrs(rr.ns, rrSideIp);
    // Rounds alternate the reflectors shape by shape, so each pair runs back to back.
    for (let round = 1; round <= ROUNDS; round++) {
      const of = ROUNDS > 1 ? ` (round ${round} of ${ROUNDS})` : '';
      for (const impl of FAN_C > 0 ? IMPLS : []) {
        process.stderr.write(`fan-in ${FAN_C}x${FAN_P} / churn / withdraw: ${impl}${of}\n`);
        await fanInSuite(impl, rr.ns, tester.ns, mon.ns, (name, s) => put(name, impl, s));
      }
      for (const n of K8S) {
        for (const impl of IMPLS) {
          process.stderr.write(`k8s ${n} clients × /26: ${impl}${of}\n`);
          put(`k8s ${n} clients × /26`, impl, await k8sRun(impl, n, rr.ns, tester.ns));
        }
      }
    }
  } finally {
    await cleanup();
  }
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  process.stdout.write(`Route-reflector race, ${when} UTC, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), reflector = measured process${ROUNDS > 1 ? `, ${ROUNDS} rounds: median (min–max), ratios of medians` : ''}; tortie: MRAI ${TORTIE_MRAI_MS} ms, node ${[...TORTIE_NODE_OPTIONS, ...TORTIE_NODE_ARGS].join(' ') || '(defaults)'}\n\n${table(results)}\n`);
}

main().catch(async (err: unknown) => {
  // Interrupted: the daemons killed under a running step make it fail; that is not the error to show.
  if (interrupted) return;
  await bail(1, `rr-race: ${err instanceof Error ? err.stack : String(err)}\n`);
});
