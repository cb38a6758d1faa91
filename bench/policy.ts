// Benchmark: the pure policy renderer with 1,000 endpoints × 200 policies. Full render time, then
// endpoint-add → re-rendered latency (p50 / p99) for the incremental calculator next to a naive
// renderer that recomputes everything from scratch (computePolicyState), in the same run; and how
// many chains / sets each add changes (what the driver must rewrite) against a full rewrite; and
// the same for label and policy changes.
// Run: npx tsx bench/policy.ts [endpoints] [policies]
import { computePolicyState, PolicyCalculator } from '../felix/policy/index.js';
import { globalPolicy, k8sPolicy, namespaceProfile, networkPolicy, pod } from '../felix/policy/testing/fixtures.js';
import type { PolicyCalcInput, PolicyDataplaneState, PolicyEndpoint, PolicyInput } from '../felix/policy/types.js';

const args = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const ENDPOINTS = args[0] ?? 1000;
const POLICIES = args[1] ?? 200;
const NAMESPACES = 20;
const ADDS = 200;
const NAIVE_ADDS = 30;

const apps = Array.from({ length: 25 }, (_, i) => `app${i}`);
const profiles = Array.from({ length: NAMESPACES }, (_, i) => namespaceProfile(`ns${i}`, { team: `t${i % 5}` }));

function endpoint(i: number): PolicyEndpoint {
  const ns = `ns${i % NAMESPACES}`;
  return pod(ns, `pod${i}`, { labels: { app: apps[i % apps.length], tier: String(i % 3) }, ips: [`10.${64 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}/32`], ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }, profiles);
}

function policy(i: number): PolicyInput {
  const ns = `ns${i % NAMESPACES}`;
  const app = apps[i % apps.length];
  const peer = apps[(i * 7 + 3) % apps.length];
  switch (i % 4) {
    case 0:
      return k8sPolicy(ns, `allow-${i}`, { podSelector: { matchLabels: { app } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: peer } } }, { namespaceSelector: { matchLabels: { team: `t${i % 5}` } } }], ports: [{ protocol: 'TCP', port: 6379 }, { protocol: 'TCP', port: 'http' }] }] });
    case 1:
      return k8sPolicy(ns, `block-${i}`, { podSelector: { matchLabels: { app } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }] }], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ protocol: 'TCP', port: 5978 }] }] });
    case 2:
      return networkPolicy(ns, `calico-${i}`, { order: i, selector: `app == '${app}' && tier != '2'`, egress: [{ action: 'Deny', protocol: 'UDP', destination: { notPorts: [53] } }, { action: 'Allow', destination: { selector: `app == '${peer}'` } }] });
    default:
      return globalPolicy(`global-${i}`, { order: i, selector: `app in {'${app}', '${peer}'}`, ingress: [{ action: 'Log', protocol: 'ICMP' }, { action: 'Pass', source: { namespaceSelector: `team == 't${i % 5}'` } }] });
  }
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

function changed(a: PolicyDataplaneState, b: PolicyDataplaneState): number {
  let n = 0;
  for (const [k, c] of b.chains) if (a.chains.get(k) !== c && JSON.stringify(a.chains.get(k)) !== JSON.stringify(c)) n++;
  for (const [k, s] of b.ipsets) if (a.ipsets.get(k) !== s && JSON.stringify(a.ipsets.get(k)) !== JSON.stringify(s)) n++;
  return n;
}

const base = Array.from({ length: ENDPOINTS }, (_, i) => endpoint(i));
const policies = Array.from({ length: POLICIES }, (_, i) => policy(i));
const input = (eps: PolicyEndpoint[]): PolicyCalcInput => ({ hostname: 'bench', localEndpoints: eps, allEndpoints: eps, policies, profiles });
const extra = Array.from({ length: ADDS }, (_, i) => endpoint(ENDPOINTS + i));

// Warm-up (JIT, selector cache) so neither side pays for it alone.
computePolicyState(input(base));

const full: number[] = [];
let state = computePolicyState(input(base));
for (let i = 0; i < 5; i++) {
  const t = process.hrtime.bigint();
  state = computePolicyState(input(base));
  full.push(ms(t));
}
const chains = state.v4.chains.size;
const sets = state.v4.ipsets.size;
const rules = [...state.v4.chains.values()].reduce((n, c) => n + c.rules.length, 0);

const calc = new PolicyCalculator();
let t0 = process.hrtime.bigint();
let prev = calc.update(input(base));
const firstIncremental = ms(t0);
const inc: number[] = [];
const touched: number[] = [];
let eps = base;
for (const e of extra) {
  eps = [...eps, e];
  const t = process.hrtime.bigint();
  const next = calc.update(input(eps));
  inc.push(ms(t));
  touched.push(changed(prev.v4, next.v4));
  prev = next;
}

// Label changes: one endpoint at a time gets another app label (selector sets change, and its own
// endpoint chains when that changes which policies apply).
const relabel: number[] = [];
const relabelTouched: number[] = [];
for (let i = 0; i < ADDS; i++) {
  const k = (i * 37) % eps.length;
  const old = eps[k];
  eps = eps.map((e, j) => (j === k ? { ...old, labels: { ...old.labels, app: apps[(i * 11 + 5) % apps.length] } } : e));
  const t = process.hrtime.bigint();
  const next = calc.update(input(eps));
  relabel.push(ms(t));
  relabelTouched.push(changed(prev.v4, next.v4));
  prev = next;
}

// Policy changes: one policy at a time gets another port in an ingress rule (its chains change;
// when that adds Ingress to its types, the endpoints it selects get a new jump too).
const repolicy: number[] = [];
const repolicyTouched: number[] = [];
let pols = policies;
for (let i = 0; i < 50; i++) {
  const k = (i * 13) % pols.length;
  const p = pols[k];
  const changedPolicy = { ...p, spec: { ...p.spec, ingress: [...(p.spec.ingress ?? []), { action: 'Allow' as const, protocol: 'TCP' as const, destination: { ports: [10000 + i] } }], types: p.spec.types.includes('Ingress') ? p.spec.types : [...p.spec.types, 'Ingress' as const] } };
  pols = pols.map((x, j) => (j === k ? changedPolicy : x));
  const t = process.hrtime.bigint();
  const next = calc.update({ ...input(eps), policies: pols });
  repolicy.push(ms(t));
  repolicyTouched.push(changed(prev.v4, next.v4));
  prev = next;
}

const naive: number[] = [];
eps = base;
for (const e of extra.slice(0, NAIVE_ADDS)) {
  eps = [...eps, e];
  t0 = process.hrtime.bigint();
  computePolicyState(input(eps));
  naive.push(ms(t0));
}

const f = (x: number) => `${x.toFixed(1)} ms`;
const fullMed = pct(full, 50);
process.stdout.write(
  [
    `${ENDPOINTS} local endpoints × ${POLICIES} policies: ${chains} chains, ${rules} rules, ${sets} ipsets per family`,
    `full render (both families): p50 ${f(fullMed)} (5 runs); incremental calculator's first update ${f(firstIncremental)}`,
    `endpoint add → re-rendered: incremental p50 ${f(pct(inc, 50))} p99 ${f(pct(inc, 99))} (${ADDS} adds); naive full re-render p50 ${f(pct(naive, 50))} p99 ${f(pct(naive, 99))} (${NAIVE_ADDS} adds)`,
    `ratio naive / incremental: p50 ${(pct(naive, 50) / pct(inc, 50)).toFixed(1)}x, p99 ${(pct(naive, 99) / pct(inc, 99)).toFixed(1)}x`,
    `chains + sets changed per add (what the driver rewrites): p50 ${pct(touched, 50)}, max ${Math.max(...touched)}; a full rewrite writes ${chains + sets}`,
    `policy change → re-rendered: incremental p50 ${f(pct(repolicy, 50))} p99 ${f(pct(repolicy, 99))} (50 changes), chains + sets changed p50 ${pct(repolicyTouched, 50)}, max ${Math.max(...repolicyTouched)}`,
    `label change → re-rendered: incremental p50 ${f(pct(relabel, 50))} p99 ${f(pct(relabel, 99))} (${ADDS} changes), chains + sets changed p50 ${pct(relabelTouched, 50)}, max ${Math.max(...relabelTouched)}`,
    '',
  ].join('\n'),
);
