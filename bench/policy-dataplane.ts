// Benchmark: the policy driver against the real kernel (iptables-nft + ipset) in a private network
// namespace, 1,000 local endpoints × 200 policies by default. Full apply on an empty table, then
// endpoint add → rules in place (calculator + driver: one ipset restore, one iptables-restore)
// p50 / p99, next to a naive driver that rewrites every chain and set on each change, and next to
// the least any change costs — one iptables-restore writing a one-rule chain into the same table —
// interleaved with the adds in the same run, so a loaded machine slows both sides alike.
// Needs root. Run: npx tsx bench/policy-dataplane.ts [endpoints] [policies]
import { execFileSync } from 'node:child_process';
import { PolicyDriver } from '../felix/dataplane/policy-iptables.js';
import { BUILTINS, parseFilterSave, parseIpsetSave, planFilter, planSets, type ObservedFilter, type ObservedSet } from '../felix/dataplane/policy-plan.js';
import { tool } from '../felix/dataplane/exec.js';
import { PolicyCalculator } from '../felix/policy/index.js';
import { globalPolicy, k8sPolicy, namespaceProfile, pod } from '../felix/policy/testing/fixtures.js';
import type { PolicyCalcInput, PolicyDataplaneState, PolicyEndpoint, PolicyInput } from '../felix/policy/types.js';

const [ENDPOINTS = 1000, POLICIES = 200] = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const ADDS = 100;
const NAIVE_ADDS = 5;
const NS = `tbpol${process.pid % 100000}`;

const teams = ['red', 'green', 'blue', 'gold'];
const profiles = Array.from({ length: 10 }, (_, i) => namespaceProfile(`team${i}`, { team: teams[i % teams.length] ?? 'red' }));
const role = (i: number): string => `svc${i % 40}`;

function ep(i: number): PolicyEndpoint {
  return pod(`team${i % 10}`, `w${i}`, { labels: { role: role(i) }, ips: [`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`] }, profiles);
}

function pol(i: number): PolicyInput {
  if (i % 5 === 4) return globalPolicy(`g${i}`, { order: i, selector: `role == '${role(i)}'`, ingress: [{ action: 'Pass', source: { namespaceSelector: `team == '${teams[i % 4]}'` } }] });
  return k8sPolicy(`team${i % 10}`, `p${i}`, {
    podSelector: { matchLabels: { role: role(i) } },
    ingress: [{ from: [{ podSelector: { matchLabels: { role: role(i * 3 + 1) } } }, { ipBlock: { cidr: '172.16.0.0/12', except: ['172.17.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
  });
}

const ms = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;
/** Nearest-rank percentile: the smallest value at least p % of the samples are at or below. */
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const inNs = (cmd: string, args: string[], input?: string): Promise<string> => tool('ip', ['netns', 'exec', NS, cmd, ...args], input);

/** The naive driver: every chain declared (emptied) and rewritten, every set rebuilt and swapped. */
async function naiveApply(state: PolicyDataplaneState): Promise<void> {
  const seen = parseFilterSave(await inNs('iptables-save', ['-t', 'filter']));
  const blank: ObservedFilter = { chains: new Map([...seen.chains.keys()].map((n) => [n, [{ body: '' }]])), builtins: new Map(BUILTINS.map((b) => [b, seen.builtins.get(b) ?? []])) };
  // Every existing set looks changed (a member nobody wants), so each is rebuilt and swapped.
  const have = parseIpsetSave(await inNs('ipset', ['save']), 4);
  const emptySets = new Map<string, ObservedSet>([...have].map(([n, s]) => [n, { ...s, members: new Set(['0.0.0.0']) }]));
  const sp = planSets(state.ipsets, emptySets, 4);
  if (sp.before) await inNs('ipset', ['restore'], sp.before);
  await inNs('iptables-restore', ['--noflush', '-w', '5'], planFilter(state.chains, state.hooks, blank).script);
}

async function main(): Promise<void> {
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    let eps = Array.from({ length: ENDPOINTS }, (_, i) => ep(i));
    const policies = Array.from({ length: POLICIES }, (_, i) => pol(i));
    const input = (e: PolicyEndpoint[]): PolicyCalcInput => ({ hostname: 'bench', localEndpoints: e, allEndpoints: e, policies, profiles });
    const calc = new PolicyCalculator();
    let st = calc.update(input(eps)).v4;
    const rules = [...st.chains.values()].reduce((n, c) => n + c.rules.length, 0);
    const members = [...st.ipsets.values()].reduce((n, s) => n + s.members.length, 0);

    const driver = new PolicyDriver({ family: 4, netns: NS });
    let t = process.hrtime.bigint();
    await driver.apply(st);
    const fullApply = ms(t);
    t = process.hrtime.bigint();
    const again = await driver.apply(st);
    const noop = ms(t);

    const inc: number[] = [];
    const written: number[] = [];
    const floor: number[] = [];
    const calcMs: number[] = [];
    for (let i = 0; i < ADDS; i++) {
      t = process.hrtime.bigint();
      await inNs('iptables-restore', ['--noflush', '-w', '5'], `*filter\n:tbench-floor - [0:0]\n-A tbench-floor -j RETURN\nCOMMIT\n`);
      floor.push(ms(t));
      eps = [...eps, ep(ENDPOINTS + i)];
      t = process.hrtime.bigint();
      st = calc.update(input(eps)).v4;
      calcMs.push(ms(t));
      const r = await driver.apply(st);
      inc.push(ms(t));
      written.push(r.chainsWritten.length + r.setsCreated.length + r.setsSwapped.length + r.setsEdited.length);
    }
    // A restart: a fresh driver reads the kernel and finds nothing to do.
    t = process.hrtime.bigint();
    const fresh = new PolicyDriver({ family: 4, netns: NS });
    const restart = await fresh.apply(st);
    fresh.close();
    const restartMs = ms(t);

    driver.close();
    const naive: number[] = [];
    for (let i = 0; i < NAIVE_ADDS; i++) {
      eps = [...eps, ep(ENDPOINTS + ADDS + i)];
      t = process.hrtime.bigint();
      st = calc.update(input(eps)).v4;
      await naiveApply(st);
      naive.push(ms(t));
    }
    const f = (x: number): string => `${x.toFixed(0)} ms`;
    process.stdout.write(
      [
        `${ENDPOINTS} local endpoints × ${POLICIES} policies, IPv4: ${st.chains.size} chains, ${rules} rules, ${st.ipsets.size} ipsets (${members} members)`,
        `full apply on an empty table: ${f(fullApply)}; same state again: ${f(noop)} (${again.transactions} restore runs); restart (fresh driver, reads the kernel): ${f(restartMs)}, ${restart.transactions} restore runs`,
        `incremental adds in order, ms (of which the calculation): ${inc.map((x, i) => `${x.toFixed(0)} (${(calcMs[i] ?? 0).toFixed(0)})`).join(' ')}`,
        `endpoint add → rules in place: incremental p50 ${f(pct(inc, 50))} p99 ${f(pct(inc, 99))} (${ADDS} adds, chains + sets written p50 ${pct(written, 50)}); naive full rewrite p50 ${f(pct(naive, 50))} p99 ${f(pct(naive, 99))} (${NAIVE_ADDS} adds)`,
        `one run of iptables-restore (a fresh process) writing a one-rule chain into the same table: p50 ${f(pct(floor, 50))} p99 ${f(pct(floor, 99))}`,
        `ratio naive / incremental: p50 ${(pct(naive, 50) / pct(inc, 50)).toFixed(1)}x; incremental / one run: p50 ${(pct(inc, 50) / pct(floor, 50)).toFixed(2)}x p99 ${(pct(inc, 99) / pct(floor, 99)).toFixed(2)}x`,
        '',
      ].join('\n'),
    );
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
