// Property: for random small policy sets and pod labels, `policy trace` (the pure evaluator over the
// datastore model, as `tortiectl policy trace` runs it) and real packets between pod namespaces
// agree on every verdict. Two hosts, two labelled namespaces, four pods listening on TCP 80 and 81;
// each run relabels the pods, replaces the policies through tortiectl, reads the model back from
// etcd, and probes all 12 ordered pod pairs on both ports (24 verdicts). One query per run also goes
// through the tortiectl command itself (every other run).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE_PREFIX, resourceKey } from '../../datastore/keys.js';
import { validateV3 } from '../../datastore/model/validate.js';
import type { Resource } from '../../datastore/model/resource.js';
import { traceModel, type PolicyTraceResources } from '../../ctl/commands/policy-trace.js';
import { PolicyTracer } from '../../felix/policy/trace.js';
import { run } from '../harness/exec.js';
import { testLab } from './lab-helpers.js';
import type { PodSpec } from '../../lab/topology.js';
import { ctl, labInfo, populate, Procs, tcp, type Pod } from './policy-helpers.js';

const RUNS = Number(process.env.TORTIE_POLICY_RUNS ?? 10);
const lab = testLab('pop');
const procs = new Procs();
let pods: Pod[] = [];
let etcd = { ns: '', endpoint: '' };

const PORTS = [80, 81] as const;
const SELECTORS = ['all()', "color == 'red'", "color == 'blue'", "color != 'red'", 'has(color)'] as const;

interface RuleDraw {
  action: 'Allow' | 'Deny' | 'Pass';
  port?: number;
  peer?: string;
  peerNs?: string;
}
interface PolicyDraw {
  global: boolean;
  namespace: 'a' | 'b';
  order?: number;
  selector: string;
  types: ('Ingress' | 'Egress')[];
  ingress: RuleDraw[];
  egress: RuleDraw[];
}

const ruleArb: fc.Arbitrary<RuleDraw> = fc.record(
  {
    action: fc.constantFrom('Allow', 'Deny', 'Pass'),
    port: fc.constantFrom(...PORTS),
    peer: fc.constantFrom(...SELECTORS),
    peerNs: fc.constantFrom('a', 'b').map((t) => `team == '${t}'`),
  },
  { requiredKeys: ['action'] },
);
const policyArb: fc.Arbitrary<PolicyDraw> = fc.record({
  global: fc.boolean(),
  namespace: fc.constantFrom('a', 'b'),
  order: fc.option(fc.constantFrom(10, 20, 30), { nil: undefined }),
  selector: fc.constantFrom(...SELECTORS),
  types: fc.constantFrom<('Ingress' | 'Egress')[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
  ingress: fc.array(ruleArb, { maxLength: 2 }),
  egress: fc.array(ruleArb, { maxLength: 2 }),
});
const scenarioArb = fc.record({
  colors: fc.array(fc.constantFrom('red', 'blue', undefined), { minLength: 4, maxLength: 4 }),
  policies: fc.array(policyArb, { minLength: 1, maxLength: 3 }),
});

function ruleDoc(r: RuleDraw, dir: 'ingress' | 'egress'): Record<string, unknown> {
  const peer: Record<string, unknown> = {};
  if (r.peer) peer.selector = r.peer;
  if (r.peerNs) peer.namespaceSelector = r.peerNs;
  const out: Record<string, unknown> = { action: r.action };
  const dest: Record<string, unknown> = dir === 'egress' ? { ...peer } : {};
  if (r.port !== undefined) {
    out.protocol = 'TCP';
    dest.ports = [r.port];
  }
  if (dir === 'ingress' && Object.keys(peer).length) out.source = peer;
  if (Object.keys(dest).length) out.destination = dest;
  return out;
}

function policyDocs(ps: readonly PolicyDraw[]): Record<string, unknown>[] {
  return ps.map((p, i) => {
    const spec: Record<string, unknown> = { selector: p.selector, types: p.types };
    if (p.order !== undefined) spec.order = p.order;
    if (p.types.includes('Ingress')) spec.ingress = p.ingress.map((r) => ruleDoc(r, 'ingress'));
    if (p.types.includes('Egress')) spec.egress = p.egress.map((r) => ruleDoc(r, 'egress'));
    return p.global
      ? { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `prop-${i}` }, spec }
      : { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: `prop-${i}`, namespace: p.namespace }, spec };
  });
}

const etcdctl = async (args: string[]): Promise<string> => (await run('ip', ['netns', 'exec', etcd.ns, 'etcdctl', `--endpoints=${etcd.endpoint}`, ...args])).stdout;

/** The datastore's resources straight from etcd (one etcdctl call), validated as the client does. */
async function loadResources(): Promise<PolicyTraceResources> {
  const out = await etcdctl(['get', '--prefix', RESOURCE_PREFIX, '-w', 'json']);
  const kvs = (JSON.parse(out) as { kvs?: { value: string }[] }).kvs ?? [];
  const r: PolicyTraceResources = { workloadEndpoints: [], networkPolicies: [], globalNetworkPolicies: [], profiles: [] };
  for (const kv of kvs) {
    const v = validateV3(JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8')));
    if (!v.ok) continue;
    const res: Resource = v.resource;
    if (res.kind === 'WorkloadEndpoint') r.workloadEndpoints.push(res);
    else if (res.kind === 'NetworkPolicy') r.networkPolicies.push(res);
    else if (res.kind === 'GlobalNetworkPolicy') r.globalNetworkPolicies.push(res);
    else if (res.kind === 'Profile') r.profiles.push(res);
  }
  return r;
}

beforeAll(async () => {
  await lab.down();
  await lab.lab(['up', '--nodes', '2', '--pods-per-node', '0']);
  const pod = (namespace: string, name: string, node: string): PodSpec => ({ name, namespace, node, labels: {} });
  await populate(lab, { a: { team: 'a' }, b: { team: 'b' } }, [pod('a', 'p1', 'node1'), pod('a', 'p2', 'node2'), pod('b', 'p3', 'node1'), pod('b', 'p4', 'node2')]);
  const info = labInfo(lab);
  pods = info.pods;
  etcd = { ns: lab.ns('etcd'), endpoint: info.etcdEndpoint };
  for (const p of pods) procs.listen(p.ns, PORTS);
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
});

describe('policy trace agrees with real packets', () => {
  it(`on ${RUNS} random policy sets and labellings`, async () => {
    let applied: Record<string, unknown>[] = [];
    let runNo = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        runNo++;
        // Relabel the pods: their WorkloadEndpoints re-applied with the drawn color label.
        const res = await loadResources();
        const weps = res.workloadEndpoints.map((w) => {
          const i = pods.findIndex((p) => p.namespace === w.metadata.namespace && (w.spec as { pod?: string }).pod === p.name);
          const labels = { ...(w.metadata.labels ?? {}) };
          delete labels.color;
          const c = sc.colors[i];
          if (c) labels.color = c;
          return { ...w, metadata: { ...w.metadata, labels } };
        });
        const docs = policyDocs(sc.policies);
        // Last run's policies that this run does not overwrite go first (etcdctl: no process start).
        const keyOf = (d: Record<string, unknown>): string => {
          const m = d.metadata as { name: string; namespace?: string };
          return d.kind === 'GlobalNetworkPolicy' ? resourceKey('globalnetworkpolicies', m.name) : resourceKey('networkpolicies', m.name, m.namespace);
        };
        const keep = new Set(docs.map(keyOf));
        for (const k of applied.map(keyOf).filter((k) => !keep.has(k))) await etcdctl(['del', k]);
        await ctl(lab, ['apply', '-f', '-'], JSON.stringify({ kind: 'List', items: [...weps, ...docs] }));
        applied = docs;

        const tracer = new PolicyTracer(traceModel(await loadResources()));
        const probes = pods.flatMap((from) => pods.filter((to) => to !== from).flatMap((to) => PORTS.map((port) => ({ from, to, port }))));
        const want = probes.map((q) => tracer.trace({ from: { ip: q.from.ip }, to: { ip: q.to.ip }, protocol: 6, port: q.port }).verdict === 'allow');
        // The dataplane converges asynchronously: poll until packets agree, or report the difference.
        let got: boolean[] = [];
        const deadline = Date.now() + 20_000;
        for (;;) {
          got = [];
          for (let i = 0; i < probes.length; i += 8) {
            got.push(...(await Promise.all(probes.slice(i, i + 8).map((q) => tcp(q.from.ns, q.to.ip, q.port)))));
          }
          if (got.every((g, i) => g === want[i]) || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const diff = probes
          .map((q, i) => ({ q, i }))
          .filter(({ i }) => got[i] !== want[i])
          .map(({ q, i }) => `${q.from.namespace}/${q.from.name} → ${q.to.namespace}/${q.to.name}:${q.port} trace ${want[i] ? 'allow' : 'deny'}, packets ${got[i] ? 'pass' : 'blocked'}`);
        expect(diff, `run ${runNo}: ${JSON.stringify(docs)} colors ${JSON.stringify(sc.colors)}`).toEqual([]);

        // The tortiectl command gives the same verdict as the evaluator (every other run: a process start costs).
        if (runNo % 2 === 0) return;
        const q = probes[runNo % probes.length] as (typeof probes)[number];
        const cli = JSON.parse(await ctl(lab, ['policy', 'trace', '--from', `${q.from.namespace}/${q.from.name}`, '--to', `${q.to.namespace}/${q.to.name}`, '--port', String(q.port), '--protocol', 'tcp', '-o', 'json'])) as { verdict: string };
        expect(cli.verdict).toBe(want[runNo % probes.length] ? 'allow' : 'deny');
      }),
      { numRuns: RUNS, endOnFailure: true, verbose: true },
    );
  }, 600_000);
});
