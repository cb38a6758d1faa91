// rr-race's result table: each workload's metrics for every reflector, with ratios to BIRD and GoBGP.
// With several rounds a cell is the median and, in brackets, the range; ratios are of the medians.
import type { Impl } from './plan.js';
import type { Sample } from './probes.js';

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'MB') return (v / 1048576).toFixed(1);
  if (unit === 'B') return v.toFixed(0);
  return v.toFixed(2);
}

/** The median of the values (the mean of the middle two for an even count); undefined for none. */
export function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cell(xs: readonly number[], unit: string): string {
  if (xs.length < 2) return fmt(xs[0], unit);
  return `${fmt(median(xs), unit)} (${fmt(Math.min(...xs), unit)}–${fmt(Math.max(...xs), unit)})`;
}

export function table(results: Map<string, Map<Impl, Sample[]>>): string {
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
      const v = (i: Impl): number[] => (byImpl.get(i) ?? []).map((s) => s[k]).filter((x): x is number => x !== undefined);
      if ([v('tortie'), v('bird'), v('gobgp')].every((x) => !x.length)) continue;
      const ratio = (a?: number, b?: number): string => (a !== undefined && b ? (a / b).toFixed(2) : '–');
      const mid = (i: Impl): number | undefined => median(v(i));
      rows.push(`| ${name} | ${label} | ${cell(v('tortie'), unit)} | ${cell(v('bird'), unit)} | ${cell(v('gobgp'), unit)} | ${ratio(mid('tortie'), mid('bird'))} | ${ratio(mid('tortie'), mid('gobgp'))} |`);
    }
  }
  return rows.join('\n');
}
