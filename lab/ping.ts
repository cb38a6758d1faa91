// The pod-to-pod reachability matrix by real ICMP, one per address family the lab has.
import { nsExec } from './sh.js';
import type { LabPod } from './state.js';

/** The pod's address of a family, if it has one. */
export function podAddr(p: Pick<LabPod, 'ip' | 'ip6'>, family: 4 | 6): string | undefined {
  return family === 6 ? p.ip6 : p.ip && !p.ip.includes(':') ? p.ip : undefined;
}

export interface PingResult {
  from: string;
  to: string;
  ok: boolean;
}

/** Runs the jobs, at most `width` at a time; results in job order. */
export async function pool<T>(jobs: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i];
      if (job) out[i] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

export async function pingOnce(ns: string, ip: string): Promise<boolean> {
  try {
    await nsExec(ns, ['ping', '-c', '1', '-W', '1', '-q', ip]);
    return true;
  } catch {
    // One retry: the first packet may wait on neighbour resolution through proxy ARP.
    return nsExec(ns, ['ping', '-c', '1', '-W', '2', '-q', ip]).then(
      () => true,
      () => false,
    );
  }
}

/** Every pod to every other pod's address of `family` (pods without one are left out). */
export async function pingMatrix(all: readonly LabPod[], family: 4 | 6 = 4): Promise<PingResult[]> {
  const pods = all.filter((p) => podAddr(p, family));
  const jobs = pods.flatMap((a) => pods.filter((b) => b !== a).map((b) => async (): Promise<PingResult> => ({ from: a.name, to: b.name, ok: await pingOnce(a.ns, podAddr(b, family) ?? '') })));
  return pool(jobs, 8);
}

export function formatMatrix(all: readonly LabPod[], results: readonly PingResult[], family: 4 | 6 = 4): string {
  const pods = all.filter((p) => podAddr(p, family));
  const ok = new Map(results.map((r) => [`${r.from}>${r.to}`, r.ok]));
  const w = Math.max(4, ...pods.map((p) => p.name.length));
  const lines = [`${'from \\ to'.padEnd(w)}  ${pods.map((_, j) => String(j + 1).padStart(3)).join('')}`];
  pods.forEach((a, i) => {
    const cells = pods.map((b) => (a === b ? '  -' : ok.get(`${a.name}>${b.name}`) ? ' ok' : '  X'));
    lines.push(`${a.name.padEnd(w)}  ${cells.join('')}   (${i + 1}) ${podAddr(a, family) ?? ''} on ${a.node}`);
  });
  const good = results.filter((r) => r.ok).length;
  lines.push(`${good}/${results.length} reachable`);
  return lines.join('\n');
}
