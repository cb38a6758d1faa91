// bgperf-style route-reflector race in network namespaces (no Docker): the same workloads against
// three reflectors in one run — ours (bgp/cli.js from dist/), BIRD 2 and GoBGP 3 — with one BIRD
// process as the tester holding every client session (each from its own address, router id and
// routing table; in the k8s shape past --tester-max clients, several BIRD processes: a deviation
// from the issue, see k8sRun) and a gobgpd monitor (an RR client too) counting the prefixes
// it accepted, polled every 200 ms.
//
//   npm run build && node --import tsx bench/rr-race.ts [--fanin 10x10000] [--k8s 500,1000] [--churn-s 30]
//       [--impl tortie,bird,gobgp] [--fanin-timeout-s 1800] [--k8s-timeout-s 1800] [--tester-max 500]
//   (--fanin 0x0 skips fan-in / churn / withdraw; --k8s '' skips the k8s shape)
//
// Scenarios, each measured on the reflector process (CPU from /proc/PID/stat, peak RSS = VmHWM):
//   fan-in      C clients × P unique /32 each → time until the monitor holds all C×P;
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
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { BgpLab, type LabMember } from '../test/harness/bgp-lab.js';
import { Bird } from '../test/harness/bird.js';
import { NetnsDaemon, removeTempDir, stopAll, tempDir, waitFor } from '../test/harness/daemon.js';
import { run } from '../test/harness/exec.js';
import { Gobgp, gobgpConfig, type GobgpNeighborConf } from '../test/harness/gobgp.js';

const AS = 64512;
const CLUSTER = '244.0.0.1';
const ROOT = resolve(import.meta.dirname, '..');

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const FAN_BITS = 17;
const [FAN_C, FAN_P] = opt('--fanin', '10x10000').split('x').map(Number);
const K8S = opt('--k8s', '500').split(',').filter(Boolean).map(Number);
if (FAN_P > 1 << FAN_BITS || 100 + ((FAN_C << FAN_BITS) >> 16) > 128) {
  process.stderr.write(`rr-race: --fanin ${FAN_C}x${FAN_P} does not fit 10.100.0.0–10.127.255.255 (at most ${1 << FAN_BITS} routes per client, 14 clients)\n`);
  process.exit(2);
}
const CHURN_S = Number(opt('--churn-s', '30'));
// Tester and monitor are polled at the slowest step the issue allows: each poll spawns a CLI and
// makes the daemon walk or format its state, on a 2-core machine that also runs the reflector.
const POLL_MS = 200;
const FAN_TIMEOUT_S = Number(opt('--fanin-timeout-s', '1800'));
const K8S_TIMEOUT_S = Number(opt('--k8s-timeout-s', '1800'));
/** Clients per tester BIRD process in the k8s shape (one process up to this many). */
const TESTER_MAX = Number(opt('--tester-max', '500'));
const IMPLS = opt('--impl', 'tortie,bird,gobgp').split(',') as Impl[];

type Impl = 'tortie' | 'bird' | 'gobgp';

const clientIp = (i: number): string => `10.96.${(i + 1) >> 8}.${(i + 1) & 255}`;
// BIRD locks a BGP session by neighbor address, so one BIRD cannot hold two sessions to the same
// address: the reflector answers each client on an address of its own (all in one /16).
const nextHopIp = (i: number): string => `10.96.${64 + ((i + 1) >> 8)}.${(i + 1) & 255}`;
const rrSideIp = (i: number): string => `10.96.${128 + ((i + 1) >> 8)}.${(i + 1) & 255}`;
// Each fan-in client owns 2^FAN_BITS addresses from 10.100.0.0 up (two /16s): with one /16 each,
// as before, 10×100k wrapped to 65,536 distinct prefixes per client and the monitor could never
// reach 10⁶ — the real reason that size "never finished".
const fanPrefix = (c: number, i: number): string => {
  const a = (c << FAN_BITS) | i;
  return `10.${100 + (a >> 16)}.${(a >> 8) & 255}.${a & 255}/32`;
};
const k8sBlock = (i: number): string => `10.${128 + (i >> 10)}.${(i >> 2) & 255}.${(i & 3) * 64}/26`;

interface Sample {
  elapsed: number;
  cpu: number;
  peakRss: number;
  bytesPerRoute?: number;
  /** The harness's own CPU over the same window: not the reflector's, shown so a slow tester or monitor is visible. */
  testerCpu?: number;
  monitorCpu?: number;
}

/** CPU seconds (user+system) and RSS / peak RSS of every process in a namespace. */
async function nsUsage(ns: string): Promise<{ cpu: number; rss: number; hwm: number }> {
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  let cpu = 0;
  let rss = 0;
  let hwm = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu += (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks (USER_HZ 100)
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
      hwm += Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
    } catch {
      /* exited */
    }
  }
  return { cpu, rss, hwm };
}

// ---- reflector configurations

function birdRr(clients: number): string {
  const lines = [
    'router id 10.95.0.1;',
    'protocol device {}',
    `template bgp c { local as ${AS}; direct; rr client; rr cluster id ${CLUSTER}; passive on; hold time 240; keepalive time 80;`,
    '  ipv4 { gateway direct; import all; export all; }; }',
    `protocol bgp mon from c { neighbor 10.95.0.3 as ${AS}; }`,
  ];
  for (let i = 0; i < clients; i++) lines.push(`protocol bgp c${i} from c { neighbor ${clientIp(i)} as ${AS}; }`);
  return `${lines.join('\n')}\n`;
}

function gobgpRr(clients: number): string {
  const nb = (address: string): GobgpNeighborConf => ({ address, peerAs: AS, passive: true, holdTime: 240, keepalive: 80, rrClusterId: CLUSTER });
  return gobgpConfig({ as: AS, routerId: '10.95.0.1', port: 179, neighbors: [nb('10.95.0.3'), ...Array.from({ length: clients }, (_, i) => nb(clientIp(i)))] });
}

function tortieRr(clients: number): string {
  const peer = (address: string): Record<string, unknown> => ({ address, asNumber: AS, type: 'node', passive: true, rrClient: true });
  return JSON.stringify({
    logLevel: 'warn',
    asNumber: AS,
    routerId: '10.95.0.1',
    clusterId: CLUSTER,
    holdTime: 240,
    families: [4],
    peers: [peer('10.95.0.3'), ...Array.from({ length: clients }, (_, i) => peer(clientIp(i)))],
  });
}

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
  writeFileSync(conf, tortieRr(clients));
  const d = new NetnsDaemon(ns, [process.execPath, cli, conf], join(dir, 'rr.log'));
  const stop = async (): Promise<void> => {
    await d.kill('SIGKILL');
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

/**
 * A tester BIRD's config for clients first … first+routes.length-1. `part` numbers the process when
 * the clients are split over several (each listens on a port of its own; the reflectors never dial).
 */
function testerConfig(routes: string[][], importAll: boolean, flap = 0, first = 0, part = 0): string {
  const lines = ['router id 10.95.0.2;', 'protocol device {}', `template bgp t { local as ${AS}; direct; hold time 240; keepalive time 80; connect retry time 1; }`];
  routes.forEach((rs, j) => {
    const i = first + j;
    // Each client its own table: in one shared table every prefix would hold N-1 alternative routes
    // and each best-route change would be offered to all N export filters, so the tester's work grew
    // with N² per change (at k8s 500 it used 34 CPU s against the BIRD reflector's 1.3; at 1,000 it
    // ran 13 CPU minutes without finishing). Apart, a client sees only its own static and imports.
    lines.push(`ipv4 table t${i};`);
    const nFlap = Math.floor(rs.length * flap);
    lines.push(`protocol static s${i} { ipv4 { table t${i}; }; ${rs.slice(nFlap).map((p) => `route ${p} blackhole;`).join(' ')} }`);
    if (nFlap) lines.push(`protocol static f${i} { ipv4 { table t${i}; }; ${rs.slice(0, nFlap).map((p) => `route ${p} blackhole;`).join(' ')} }`);
    // Next hops on the shared /16 but not the tester's own addresses (BIRD drops a route whose next
    // hop is one of its addresses, and every client lives in this one BIRD).
    // Each session its own router id: reflected routes carry the originator's as ORIGINATOR_ID, and
    // one shared id would make every client drop every other client's routes as loops.
    lines.push(`protocol bgp c${i} from t { router id ${clientIp(i)}; local ${clientIp(i)} port ${1790 + part}; neighbor ${rrSideIp(i)} as ${AS}; ipv4 { table t${i}; gateway recursive; import ${importAll ? 'all' : 'none'}; export filter { if proto = "s${i}" || proto = "f${i}" then { bgp_next_hop = ${nextHopIp(i)}; accept; } reject; }; }; }`);
  });
  return `${lines.join('\n')}\n`;
}

const MONITOR = gobgpConfig({ as: AS, routerId: '10.95.0.3', port: -1, neighbors: [{ address: '10.95.0.1', peerAs: AS, holdTime: 240, keepalive: 80, connectRetry: 1 }] });

/**
 * Prefixes the monitor accepted from the reflector: the Accepted column of `gobgp neighbor`. Every
 * gobgpd count walks a table in its main loop (`global rib summary` walks the Loc-RIB, slower:
 * 15 s per call at 457,000 routes; `neighbor` walks the Adj-RIB-In for "Received", 0.7 s at 10⁶),
 * so polling costs the monitor CPU that grows with the table. Streaming (`gobgp monitor global rib`)
 * was tried and is worse: at 10⁶ routes the event stream lagged minutes behind the table while
 * gobgpd queued events past 5 GB.
 */
async function monitorCount(m: Gobgp): Promise<number> {
  const out = await timed('monitor', () => m.cli(['neighbor']));
  const row = /^10\.95\.0\.1\s.*\|\s*(\d+)\s+(\d+)\s*$/m.exec(out);
  return row ? Number(row[2]) : 0;
}

/** The slowest tester / monitor probe so far (ms), printed after each scenario. */
const probeMax = { tester: 0, monitor: 0 };
async function timed<T>(which: keyof typeof probeMax, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  probeMax[which] = Math.max(probeMax[which], performance.now() - t0);
  return r;
}

/**
 * True once every client of `n` holds every other client's route (k8s shape). Counting routes
 * (`show route table all count`) walks every route, and BIRD 2 walks 64 per main-loop pass, each
 * pass polling every session's socket: at 1,000 clients one count took 16 s of the tester's time.
 * The per-channel "Routes: N imported" counters cost one line per protocol instead (0.14 CPU s at
 * 2,000 clients), and run only once the last client's table (a few dozen routes to walk) is full.
 */
async function k8sConverged(testers: Bird[], n: number): Promise<boolean> {
  return timed('tester', async () => {
    const lastTester = testers[testers.length - 1];
    if (!lastTester) return false;
    const last = /(\d+) of (\d+) routes/.exec(await lastTester.cmd(`show route table t${n - 1} count`));
    if (Number(last?.[2] ?? 0) < n) return false; // its own /26 and the n-1 others
    let imported = 0;
    for (const t of testers) {
      const all = await t.cmd('show protocols all "c*"');
      for (const m of all.matchAll(/Routes:\s+(\d+) imported/g)) imported += Number(m[1]);
    }
    return imported >= n * (n - 1);
  });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, stepMs: number): Promise<number> {
  const t0 = performance.now();
  await waitFor(what, async () => ((await probe()) ? true : undefined), timeoutMs, stepMs);
  return (performance.now() - t0) / 1000;
}

// ---- scenarios

interface HarnessMark {
  testerNs: string;
  monNs: string;
  tester: number;
  monitor: number;
}
async function harnessCpu(testerNs: string, monNs: string): Promise<HarnessMark> {
  return { testerNs, monNs, tester: (await nsUsage(testerNs)).cpu, monitor: (await nsUsage(monNs)).cpu };
}
async function harnessDelta(h: HarnessMark): Promise<Pick<Sample, 'testerCpu' | 'monitorCpu'>> {
  const now = await harnessCpu(h.testerNs, h.monNs);
  return { testerCpu: now.tester - h.tester, monitorCpu: now.monitor - h.monitor };
}

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
    put(`fan-in ${FAN_C}×${FAN_P}`, { elapsed, cpu: u.cpu - base.cpu, peakRss: u.hwm, bytesPerRoute: (u.rss - base.rss) / total, ...(await harnessDelta(h)) });

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
    return { elapsed, cpu: u.cpu - base.cpu, peakRss: u.hwm, bytesPerRoute: (u.rss - base.rss) / n, testerCpu: tu.cpu - tBase.cpu };
  } finally {
    for (const t of testers) await t.stop();
    await rr.stop();
  }
}

// ---- table

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'MB') return (v / 1048576).toFixed(1);
  if (unit === 'B') return v.toFixed(0);
  return v.toFixed(2);
}

function table(results: Map<string, Map<Impl, Sample>>): string {
  const rows = ['| workload | metric | tortie | BIRD 2 | GoBGP 3 | tortie/BIRD | tortie/GoBGP |', '|---|---|---:|---:|---:|---:|---:|'];
  const metrics: Array<[keyof Sample, string, string]> = [
    ['elapsed', 'elapsed s', 's'],
    ['cpu', 'CPU s', 's'],
    ['peakRss', 'peak RSS MB', 'MB'],
    ['bytesPerRoute', 'bytes/route', 'B'],
    ['testerCpu', 'tester CPU s', 's'],
    ['monitorCpu', 'monitor CPU s', 's'],
  ];
  for (const [name, byImpl] of results) {
    for (const [k, label, unit] of metrics) {
      const v = (i: Impl): number | undefined => byImpl.get(i)?.[k];
      if ([v('tortie'), v('bird'), v('gobgp')].every((x) => x === undefined)) continue;
      const ratio = (a?: number, b?: number): string => (a !== undefined && b ? (a / b).toFixed(2) : '–');
      rows.push(`| ${name} | ${label} | ${fmt(v('tortie'), unit)} | ${fmt(v('bird'), unit)} | ${fmt(v('gobgp'), unit)} | ${ratio(v('tortie'), v('bird'))} | ${ratio(v('tortie'), v('gobgp'))} |`);
    }
  }
  return rows.join('\n');
}

// Every way out (normal end, error, SIGINT / SIGTERM) awaits this one cleanup before exiting, so a
// signal arriving while an error unwinds (or the reverse) never exits half-way through it.
let labMade: Promise<BgpLab> | undefined;
let cleaning: Promise<void> | undefined;
let interrupted: NodeJS.Signals | undefined;
/** The host-wide neighbour-table limits: raised for a run's clients (each costs an ARP entry on both sides), see NEIGH_STATE. */
const NEIGH_LIMITS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].flatMap((t) => [`/proc/sys/net/ipv4/neigh/default/${t}`, `/proc/sys/net/ipv6/neigh/default/${t}`]);
/**
 * The limits are host-wide, so runs at the same time share one record: the values found by the
 * first run and the runs holding them raised. Each run saving what it found would let a run that
 * started while another had raised them "restore" the raised values.
 */
const NEIGH_STATE = '/run/tortie-rrbench-neigh.json';
interface NeighState {
  original: Record<string, string>;
  pids: number[];
}
/** What this run found, in case the shared record is gone by its end. */
let neighFound: Record<string, string> | undefined;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The shared record, without runs that have died (an empty list: nobody holds the limits raised). */
function neighState(): NeighState | undefined {
  if (!existsSync(NEIGH_STATE)) return undefined;
  try {
    const st = JSON.parse(readFileSync(NEIGH_STATE, 'utf8')) as NeighState;
    return { original: st.original, pids: st.pids.filter((pid) => pid !== process.pid && alive(pid)) };
  } catch {
    return undefined;
  }
}

/** Raises the neighbour-table limits for this many clients (never lowers them). */
function raiseNeighLimits(clients: number): void {
  const want = [clients * 2, clients * 4, clients * 8].map((n) => Math.max(n, 1024));
  const found = Object.fromEntries(NEIGH_LIMITS.map((f) => [f, readFileSync(f, 'utf8').trim()]));
  const held = neighState();
  const original = held?.pids.length ? held.original : found;
  neighFound = found;
  writeFileSync(NEIGH_STATE, JSON.stringify({ original, pids: [...(held?.pids ?? []), process.pid] }));
  NEIGH_LIMITS.forEach((f, i) => {
    const target = want[Math.floor(i / 2)] ?? 1024;
    if (Number(readFileSync(f, 'utf8').trim()) < target) writeFileSync(f, String(target));
  });
}

/** The last run holding the limits raised puts back the values the first one found. */
function restoreNeighLimits(): void {
  const found = neighFound;
  if (!found) return;
  neighFound = undefined;
  const held = neighState();
  if (held?.pids.length) {
    writeFileSync(NEIGH_STATE, JSON.stringify(held));
    return;
  }
  for (const [f, v] of Object.entries(held?.original ?? found)) writeFileSync(f, v);
  rmSync(NEIGH_STATE, { force: true });
}

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
  const results = new Map<string, Map<Impl, Sample>>();
  const put = (name: string, impl: Impl, s: Sample): void => {
    if (!results.has(name)) results.set(name, new Map());
    results.get(name)?.set(impl, s);
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
    for (const impl of FAN_C > 0 ? IMPLS : []) {
      process.stderr.write(`fan-in ${FAN_C}x${FAN_P} / churn / withdraw: ${impl}\n`);
      await fanInSuite(impl, rr.ns, tester.ns, mon.ns, (name, s) => put(name, impl, s));
    }
    for (const n of K8S) {
      for (const impl of IMPLS) {
        process.stderr.write(`k8s ${n} clients × /26: ${impl}\n`);
        put(`k8s ${n} clients × /26`, impl, await k8sRun(impl, n, rr.ns, tester.ns));
      }
    }
  } finally {
    await cleanup();
  }
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  process.stdout.write(`Route-reflector race, ${when} UTC, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), reflector = measured process\n\n${table(results)}\n`);
}

main().catch(async (err: unknown) => {
  // Interrupted: the daemons killed under a running step make it fail; that is not the error to show.
  if (interrupted) return;
  await bail(1, `rr-race: ${err instanceof Error ? err.stack : String(err)}\n`);
});
