// rr-race's measurements: CPU and memory of the processes in a namespace, and the probes that
// tell when the monitor or the tester BIRDs hold what a scenario waits for.
import { readFileSync } from 'node:fs';
import type { Bird } from '../../test/harness/bird.js';
import { waitFor } from '../../test/harness/daemon.js';
import { run } from '../../test/harness/exec.js';
import type { Gobgp } from '../../test/harness/gobgp.js';

export interface Sample {
  elapsed: number;
  cpu: number;
  peakRss: number;
  bytesPerRoute?: number;
  /** The same, read again after the reflector was idle for a while. */
  heldBytesPerRoute?: number;
  /** File pages in the RSS at the end (executable, libraries): what the peak holds that is not data. */
  fileRss?: number;
  /** The harness's own CPU over the same window: not the reflector's, shown so a slow tester or monitor is visible. */
  testerCpu?: number;
  monitorCpu?: number;
}

/**
 * CPU seconds (user+system) and RSS / peak RSS of every process in a namespace, and the part of
 * the RSS that is file pages (the executable and libraries: Node's binary alone is about 35 MB).
 */
export async function nsUsage(ns: string): Promise<{ cpu: number; rss: number; hwm: number; fileRss: number }> {
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  let cpu = 0;
  let rss = 0;
  let hwm = 0;
  let fileRss = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu += (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks (USER_HZ 100)
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
      hwm += Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
      fileRss += Number(/RssFile:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
    } catch {
      /* exited */
    }
  }
  return { cpu, rss, hwm, fileRss };
}

/**
 * Prefixes the monitor accepted from the reflector: the Accepted column of `gobgp neighbor`. Every
 * gobgpd count walks a table in its main loop (`global rib summary` walks the Loc-RIB, slower:
 * 15 s per call at 457,000 routes; `neighbor` walks the Adj-RIB-In for "Received", 0.7 s at 10⁶),
 * so polling costs the monitor CPU that grows with the table. Streaming (`gobgp monitor global rib`)
 * was tried and is worse: at 10⁶ routes the event stream lagged minutes behind the table while
 * gobgpd queued events past 5 GB.
 */
export async function monitorCount(m: Gobgp): Promise<number> {
  const out = await timed('monitor', () => m.cli(['neighbor']));
  const row = /^10\.95\.0\.1\s.*\|\s*(\d+)\s+(\d+)\s*$/m.exec(out);
  return row ? Number(row[2]) : 0;
}

/** The slowest tester / monitor probe so far (ms), printed after each scenario. */
export const probeMax = { tester: 0, monitor: 0 };
export async function timed<T>(which: keyof typeof probeMax, f: () => Promise<T>): Promise<T> {
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
export async function k8sConverged(testers: Bird[], n: number): Promise<boolean> {
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

export async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, stepMs: number): Promise<number> {
  const t0 = performance.now();
  await waitFor(what, async () => ((await probe()) ? true : undefined), timeoutMs, stepMs);
  return (performance.now() - t0) / 1000;
}

export interface HarnessMark {
  testerNs: string;
  monNs: string;
  tester: number;
  monitor: number;
}
export async function harnessCpu(testerNs: string, monNs: string): Promise<HarnessMark> {
  return { testerNs, monNs, tester: (await nsUsage(testerNs)).cpu, monitor: (await nsUsage(monNs)).cpu };
}
export async function harnessDelta(h: HarnessMark): Promise<Pick<Sample, 'testerCpu' | 'monitorCpu'>> {
  const now = await harnessCpu(h.testerNs, h.monNs);
  return { testerCpu: now.tester - h.tester, monitorCpu: now.monitor - h.monitor };
}
