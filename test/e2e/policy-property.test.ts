// Property: for random small policy sets and pod labels, `policy trace` (the pure evaluator over the
// datastore model, as `tortiectl policy trace` runs it) and real packets between pod namespaces
// agree on every verdict. Two hosts, two labelled namespaces, four pods listening on TCP and UDP 80
// and 81. Rules draw a protocol (TCP, UDP, ICMP, by name or number, or none), a notProtocol, ports
// with TCP/UDP and icmp / notICMP type and code with ICMP, as Calico's validation allows them.
// Each run relabels the pods, replaces the policies through tortiectl, reads the model back from
// etcd, and probes all 12 ordered pod pairs three ways (36 verdicts): a TCP handshake on one port,
// a UDP datagram to the other (seen arriving at the destination's listener) and an ICMP echo
// (ping). The lab is dual stack: each pair's probes alternate between IPv4 and IPv6 (ICMPv6 echo for
// IPv6), so both ip6tables and iptables, and both families of the evaluator, are held to the same
// verdicts. One query per run also goes through the tortiectl command itself (every other run).
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
import { ctl, labInfo, ping, populate, Procs, tcp, UdpSink, type Pod } from './policy-helpers.js';

const RUNS = Number(process.env.TORTIE_POLICY_RUNS ?? 10);
const lab = testLab('pop');
const procs = new Procs();
const udp = new UdpSink();
let pods: Pod[] = [];
let etcd = { ns: '', endpoint: '' };

const PORTS = [80, 81] as const;
const PROTO = { tcp: 6, udp: 17, icmp: 1 } as const;
interface Probe {
  from: Pod;
  to: Pod;
  proto: keyof typeof PROTO;
  port?: number;
  family: 4 | 6;
}
const addrOf = (p: Pod, family: 4 | 6): string => (family === 4 ? p.ip : (p.ip6 ?? 'no IPv6 address'));
/** The protocol number on the wire: an echo over IPv6 is ICMPv6. */
const protoNumber = (q: Probe): number => (q.proto === 'icmp' && q.family === 6 ? 58 : PROTO[q.proto]);
const SELECTORS = ['all()', "color == 'red'", "color == 'blue'", "color != 'red'", 'has(color)'] as const;

/** Protocol as a rule writes it: a name or its number (both validate and must behave alike). */
type L4 = 'TCP' | 'UDP' | 6 | 17;
type Icmp = 'ICMP' | 1;
interface IcmpDraw {
  type: number;
  code?: number;
}
interface RuleDraw {
  action: 'Allow' | 'Deny' | 'Pass';
  /** Absent: any protocol (then maybe a notProtocol). */
  protocol?: L4 | Icmp;
  notProtocol?: 'TCP' | 'UDP' | 'ICMP';
  /** Only with TCP / UDP. */
  port?: number;
  /** Only with ICMP: the probe is an echo request (type 8 code 0), so these hit and miss. */
  icmp?: IcmpDraw;
  notICMP?: IcmpDraw;
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

const ICMP_MATCHES: readonly IcmpDraw[] = [{ type: 8 }, { type: 8, code: 0 }, { type: 8, code: 1 }, { type: 0 }, { type: 3, code: 3 }];
const peerArb = fc.record(
  {
    peer: fc.constantFrom(...SELECTORS),
    peerNs: fc.constantFrom('a', 'b').map((t) => `team == '${t}'`),
  },
  { requiredKeys: [] },
);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const matchArb: fc.Arbitrary<Omit<RuleDraw, 'action' | 'peer' | 'peerNs'>> = fc.oneof(
  fc.constant({}),
  fc.record({ protocol: fc.constantFrom<L4>('TCP', 'UDP', 6, 17), port: opt(fc.constantFrom(...PORTS)) }),
  fc.record({ protocol: fc.constantFrom<Icmp>('ICMP', 1), icmp: opt(fc.constantFrom(...ICMP_MATCHES)), notICMP: opt(fc.constantFrom(...ICMP_MATCHES)) }),
  fc.record({ notProtocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'ICMP' as const) }),
);
const ruleArb: fc.Arbitrary<RuleDraw> = fc
  .tuple(fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), matchArb, peerArb)
  .map(([action, m, p]) => ({ action, ...m, ...p }));
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
  if (r.protocol !== undefined) out.protocol = r.protocol;
  if (r.notProtocol !== undefined) out.notProtocol = r.notProtocol;
  if (r.port !== undefined) dest.ports = [r.port];
  if (r.icmp) out.icmp = r.icmp;
  if (r.notICMP) out.notICMP = r.notICMP;
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
  await lab.lab(['up', '--dual-stack', '--nodes', '2', '--pods-per-node', '0']);
  const pod = (namespace: string, name: string, node: string): PodSpec => ({ name, namespace, node, labels: {} });
  await populate(lab, { a: { team: 'a' }, b: { team: 'b' } }, [pod('a', 'p1', 'node1'), pod('a', 'p2', 'node2'), pod('b', 'p3', 'node1'), pod('b', 'p4', 'node2')]);
  const info = labInfo(lab);
  pods = info.pods;
  etcd = { ns: lab.ns('etcd'), endpoint: info.etcdEndpoint };
  for (const p of pods) {
    procs.listen(p.ns, PORTS, { ipv6: true });
    procs.listenUdp(p.ns, PORTS, udp, { ipv6: true });
  }
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
});

describe('policy trace agrees with real packets', () => {
  it(`on ${RUNS} random policy sets and labellings`, async () => {
    let applied: Record<string, unknown>[] = [];
    let runNo = 0;
    let agreements = 0;
    let cliChecks = 0;
    const perProto = { tcp: 0, udp: 0, icmp: 0 };
    const perFamily = { 4: 0, 6: 0 };
    const allowed = { tcp: 0, udp: 0, icmp: 0 };
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
        // Per ordered pair: TCP on one port, UDP on the other (alternating with the pair and the
        // run, so each port sees both protocols), and an ICMP echo request; TCP and ICMP in one
        // family, UDP in the other (alternating too, so each protocol sees both families).
        const pairs = pods.flatMap((from) => pods.filter((to) => to !== from).map((to) => ({ from, to })));
        const probes: Probe[] = pairs.flatMap(({ from, to }, i) => {
          const tcpPort = PORTS[(i + runNo) % 2] as number;
          const udpPort = PORTS[(i + runNo + 1) % 2] as number;
          const family = (i + Math.floor(runNo / 2)) % 2 === 0 ? 4 : 6;
          const other = family === 4 ? 6 : 4;
          return [
            { from, to, proto: 'tcp', port: tcpPort, family },
            { from, to, proto: 'udp', port: udpPort, family: other },
            { from, to, proto: 'icmp', family },
          ];
        });
        const want = probes.map(
          (q) => tracer.trace({ from: { ip: addrOf(q.from, q.family) }, to: { ip: addrOf(q.to, q.family) }, protocol: protoNumber(q), ...(q.port === undefined ? {} : { port: q.port }) }).verdict === 'allow',
        );
        const send = (q: Probe): Promise<boolean> => {
          const dst = addrOf(q.to, q.family);
          return q.proto === 'tcp' ? tcp(q.from.ns, dst, q.port ?? 0) : q.proto === 'udp' ? udp.probe(q.from.ns, q.to.ns, dst, q.port ?? 0) : ping(q.from.ns, dst);
        };
        // The dataplane converges asynchronously: poll until packets agree, or report the difference.
        let got: boolean[] = [];
        const deadline = Date.now() + 20_000;
        for (;;) {
          got = [];
          for (let i = 0; i < probes.length; i += 8) {
            got.push(...(await Promise.all(probes.slice(i, i + 8).map(send))));
          }
          if (got.every((g, i) => g === want[i]) || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const diff = probes
          .map((q, i) => ({ q, i }))
          .filter(({ i }) => got[i] !== want[i])
          .map(({ q, i }) => `${q.from.namespace}/${q.from.name} → ${q.to.namespace}/${q.to.name} IPv${q.family} ${q.proto}${q.port === undefined ? '' : `:${q.port}`} trace ${want[i] ? 'allow' : 'deny'}, packets ${got[i] ? 'pass' : 'blocked'}`);
        expect(diff, `run ${runNo}: ${JSON.stringify(docs)} colors ${JSON.stringify(sc.colors)}`).toEqual([]);
        agreements += probes.length;
        probes.forEach((q, i) => {
          perProto[q.proto]++;
          perFamily[q.family]++;
          if (want[i]) allowed[q.proto]++;
        });

        // The tortiectl command gives the same verdict as the evaluator (every other run: a process start costs).
        if (runNo % 2 === 0) return;
        // Stepping by 7 (coprime to 3) cycles the queried probe through TCP, UDP and ICMP.
        const k = (runNo * 7) % probes.length;
        const q = probes[k] as Probe;
        const portArgs = q.port === undefined ? [] : ['--port', String(q.port)];
        // IPv4 by pod name; IPv6 by address (a pod name means its first, IPv4, address).
        const ends = q.family === 4 ? [`${q.from.namespace}/${q.from.name}`, `${q.to.namespace}/${q.to.name}`] : [addrOf(q.from, 6), addrOf(q.to, 6)];
        const proto = protoNumber(q) === 58 ? 'icmpv6' : q.proto;
        const cli = JSON.parse(await ctl(lab, ['policy', 'trace', '--from', ends[0] ?? '', '--to', ends[1] ?? '', ...portArgs, '--protocol', proto, '-o', 'json'])) as { verdict: string };
        expect(cli.verdict, `tortiectl policy trace IPv${q.family} ${proto}`).toBe(want[k] ? 'allow' : 'deny');
        cliChecks++;
      }),
      { numRuns: RUNS, endOnFailure: true, verbose: true },
    );
    // The figure the README quotes: verdicts where packets and trace agreed, by protocol.
    const by = (p: keyof typeof PROTO): string => `${p} ${perProto[p]} (${allowed[p]} allowed)`;
    console.log(`policy-property: ${agreements} agreements (${by('tcp')}, ${by('udp')}, ${by('icmp')}; IPv4 ${perFamily[4]}, IPv6 ${perFamily[6]}) over ${runNo} runs; ${cliChecks} tortiectl checks`);
  }, 600_000);
});
