// Property: for random small policy sets, endpoints and packets, the trace evaluator's verdict is
// what the rendered iptables chains do (interpreter), on one host and across two hosts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulate } from './testing/agree.js';
import { everyRuleKind } from './testing/fixtures.js';
import { buildModel, podSpec, policy } from './testing/generators.js';
import { PolicyTracer, type TraceModel, type TraceQuery } from './trace.js';
import { computePolicyState } from './index.js';
import { MAX_CHAIN_NAME, MAX_IPSET_NAME } from './types.js';

/** Names within the kernel's limits, and no rule pointing at a chain or set the state lacks. */
function expectWellFormed(model: TraceModel): void {
  const s = computePolicyState({ hostname: 'h', localEndpoints: model.endpoints, allEndpoints: model.endpoints, policies: model.policies, profiles: model.profiles });
  for (const st of [s.v4, s.v6]) {
    for (const [name, c] of st.chains) {
      expect(name.length).toBeLessThanOrEqual(MAX_CHAIN_NAME);
      for (const r of c.rules) {
        for (const m of r.matchAll(/-[jg] (cali-\S+)/g)) expect(st.chains.has(m[1]), `${name}: ${r}`).toBe(true);
        for (const m of r.matchAll(/--match-set (\S+)/g)) expect(st.ipsets.has(m[1]), `${name}: ${r}`).toBe(true);
      }
    }
    for (const [name, set] of st.ipsets) {
      expect(name.length).toBeLessThanOrEqual(MAX_IPSET_NAME);
      expect(name.startsWith(`cali${st.family}0`)).toBe(true);
      expect(set.family).toBe(st.family === 4 ? 'inet' : 'inet6');
    }
  }
}

const query = (n: number) =>
  fc.record({
    from: fc.oneof(fc.integer({ min: 0, max: n - 1 }).map((i) => ({ endpoint: `${i}` })), fc.constantFrom({ ip: '192.168.1.7' }, { ip: '10.65.0.200' })),
    to: fc.oneof(fc.integer({ min: 0, max: n - 1 }).map((i) => ({ endpoint: `${i}` })), fc.constantFrom({ ip: '192.168.1.7' }, { ip: '10.65.0.200' })),
    proto: fc.constantFrom(6, 17, 1),
    port: fc.constantFrom(80, 8080, 8050, 22, 9999),
    sport: fc.constantFrom(40000, 22),
    icmpType: fc.constantFrom(8, 0),
  });

const runs = Number(process.env.TORTIE_PROPERTY_RUNS ?? 150);

describe('trace agrees with the rendered chains', () => {
  it('on random policy sets, endpoints and packets (one host and two hosts)', () => {
    const seen = { allow: 0, deny: 0, byPolicy: 0, byProfile: 0, passed: 0 };
    fc.assert(
      fc.property(
        fc.array(podSpec, { minLength: 2, maxLength: 5 }),
        fc.array(policy, { maxLength: 4 }),
        fc.boolean(),
        fc.integer({ min: 2, max: 5 }).chain((n) => fc.array(query(n), { minLength: 4, maxLength: 4 })),
        (pods, pols, bDeniesUdp, queries) => {
          const model = buildModel(pods, pols, bDeniesUdp);
          expectWellFormed(model);
          const tracer = new PolicyTracer(model);
          for (const q of queries) {
            const peer = (p: { endpoint: string } | { ip: string }) => ('endpoint' in p ? { endpoint: model.endpoints[Number(p.endpoint) % model.endpoints.length].key } : p);
            const tq: TraceQuery = { from: peer(q.from), to: peer(q.to), protocol: q.proto, port: q.port, sourcePort: q.sport, icmp: { type: q.icmpType, code: 0 } };
            for (const layout of ['one-host', 'own-hosts'] as const) {
              const { verdict, trace } = simulate(model, tq, layout, tracer);
              expect(verdict, `${layout} ${JSON.stringify(tq)} ${JSON.stringify(trace.steps)}`).toBe(trace.verdict);
            }
            const { verdict } = simulate(model, tq, 'one-host', tracer);
            seen[verdict]++;
            const d = tracer.trace(tq).decidedBy;
            if (d?.reason === 'policy') seen.byPolicy++;
            if (d?.reason === 'profile') seen.byProfile++;
            if (d?.passedBy) seen.passed++;
          }
        },
      ),
      { numRuns: runs },
    );
    // The draws exercise every kind of outcome, not just one.
    expect(Math.min(...Object.values(seen)), JSON.stringify(seen)).toBeGreaterThan(0);
  });
});

describe('every rule kind the renderer emits', () => {
  it('trace and chains agree over a grid of packets, both families', () => {
    const input = everyRuleKind();
    const model: TraceModel = { endpoints: input.allEndpoints, policies: input.policies, profiles: input.profiles };
    const tracer = new PolicyTracer(model);
    const peers = [...model.endpoints.map((e) => ({ endpoint: e.key })), { ip: '172.17.0.9' }, { ip: '172.17.1.9' }, { ip: '10.0.0.5' }, { ip: 'fd02::9' }, { ip: 'fd00::9' }];
    const verdicts = new Set<string>();
    let checked = 0;
    for (const from of peers) {
      for (const to of peers) {
        for (const [protocol, port, sport] of [[6, 80, 40000], [17, 55, 40000], [17, 1005, 53], [132, 9, 1], [136, 7, 100], [136, 7, 5], [47, undefined, undefined], [1, undefined, undefined], [58, undefined, undefined]] as const) {
          for (const icmp of [{ type: 8, code: 0 }, { type: 3, code: 1 }, { type: 128, code: 0 }, { type: 1, code: 3 }]) {
            const q: TraceQuery = { from, to, protocol, icmp, ...(port === undefined ? {} : { port, sourcePort: sport }) };
            let t;
            try {
              t = tracer.trace(q);
            } catch {
              continue; // no common address family
            }
            for (const layout of ['one-host', 'own-hosts'] as const) expect(simulate(model, q, layout, tracer).verdict, `${layout} ${JSON.stringify(q)}`).toBe(t.verdict);
            verdicts.add(`${t.family}${t.verdict}`);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect([...verdicts].sort()).toEqual(['4allow', '4deny', '6allow', '6deny']);
  });
});
