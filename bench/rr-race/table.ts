// rr-race's result table: each workload's metrics for every reflector, with ratios to BIRD and GoBGP.
import type { Impl } from './plan.js';
import type { Sample } from './probes.js';

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'MB') return (v / 1048576).toFixed(1);
  if (unit === 'B') return v.toFixed(0);
  return v.toFixed(2);
}

export function table(results: Map<string, Map<Impl, Sample>>): string {
  const rows = ['| workload | metric | tortie | BIRD 2 | GoBGP 3 | tortie/BIRD | tortie/GoBGP |', '|---|---|---:|---:|---:|---:|---:|'];
  const metrics: Array<[keyof Sample, string, string]> = [
    ['elapsed', 'elapsed s', 's'],
    ['cpu', 'CPU s', 's'],
    ['peakRss', 'peak RSS MB', 'MB'],
    ['fileRss', 'file pages at end MB', 'MB'],
    ['bytesPerRoute', 'bytes/route', 'B'],
    ['heldBytesPerRoute', 'bytes/route, idle', 'B'],
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
