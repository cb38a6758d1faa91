// A change touches only what it affects: the driver diffs chains by name and content, so the
// renderer must give unaffected chains and sets the same content (the calculator even returns the
// same objects). And the incremental calculator always equals a render from scratch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computePolicyState, PolicyCalculator } from './index.js';
import { policyChainName } from './names.js';
import { calcInput, globalPolicy, namespaceProfile, networkPolicy, pod } from './testing/fixtures.js';
import type { PolicyDataplaneState, PolicyEndpoint, PolicyInput } from './types.js';

const profiles = [namespaceProfile('a', { team: 'x' }), namespaceProfile('b', { team: 'y' })];
const mk = (ns: string, name: string, app: string, n: number) => pod(ns, name, { labels: { app }, ips: [`10.65.0.${n}/32`] }, profiles);
const web = mk('a', 'web', 'web', 1);
const db = mk('a', 'db', 'db', 2);
const api = mk('b', 'api', 'api', 3);
const dbPolicy = networkPolicy('a', 'db', { selector: "app == 'db'", ingress: [{ action: 'Allow', source: { selector: "app == 'web'" } }] });
const apiPolicy = globalPolicy('api', { order: 5, selector: "app == 'api'", egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'db'", namespaceSelector: 'all()', ports: [5432] } }] });

interface Diff {
  chains: string[];
  ipsets: string[];
}

function diff(a: PolicyDataplaneState, b: PolicyDataplaneState): Diff {
  const changed = <T>(x: Map<string, T>, y: Map<string, T>) =>
    [...new Set([...x.keys(), ...y.keys()])].filter((k) => JSON.stringify(x.get(k)) !== JSON.stringify(y.get(k))).sort();
  return { chains: changed(a.chains, b.chains), ipsets: changed(a.ipsets, b.ipsets) };
}

function setOf(s: PolicyDataplaneState, chain: string): string {
  const m = /--match-set (\S+)/.exec(s.chains.get(chain)?.rules.join(' ') ?? '');
  if (!m) throw new Error(`no set in ${chain}`);
  return m[1];
}

describe('a label change', () => {
  it('changes only the membership of the sets whose selectors it affects, no chain', () => {
    const calc = new PolicyCalculator();
    const before = calc.update(calcInput([web, db, api], [dbPolicy, apiPolicy], profiles)).v4;
    // A remote pod in namespace a turns from "api" into "web": it joins the source set of the
    // db policy. No policy selects it, so no chain may change.
    const web2 = mk('a', 'web2', 'api', 4);
    const mid = calc.update(calcInput([web, db, api, web2], [dbPolicy, apiPolicy], profiles, [web, db, api])).v4;
    const relabelled: PolicyEndpoint = { ...web2, labels: { ...web2.labels, app: 'web' } };
    const after = calc.update(calcInput([web, db, api, relabelled], [dbPolicy, apiPolicy], profiles, [web, db, api])).v4;
    const webSet = setOf(after, policyChainName(dbPolicy, 'ingress'));
    expect(diff(mid, after)).toEqual({ chains: [], ipsets: [webSet] });
    expect(after.ipsets.get(webSet)?.members).toEqual(['10.65.0.1/32', '10.65.0.4/32']);
    // Unchanged chains and sets are the very same objects: the driver can skip them cheaply.
    for (const [k, c] of mid.chains) expect(after.chains.get(k)).toBe(c);
    expect(before.chains.size).toBe(mid.chains.size);
  });
  it('of a local endpoint that makes a policy apply changes that endpoint chain and adds the policy chains', () => {
    const calc = new PolicyCalculator();
    const before = calc.update(calcInput([web, db, api], [dbPolicy], profiles)).v4;
    const webAsDb: PolicyEndpoint = { ...web, labels: { ...web.labels, app: 'db' } };
    const after = calc.update(calcInput([webAsDb, db, api], [dbPolicy], profiles)).v4;
    const d = diff(before, after);
    expect(d.chains).toEqual([`cali-tw-${web.iface}`]);
    // web left the source set of the policy (it is a db now).
    expect(d.ipsets).toHaveLength(1);
    expect(after.ipsets.get(d.ipsets[0])?.members).toEqual([]);
  });
});

describe('a policy change', () => {
  it('changes only its own chains (and the sets only it uses)', () => {
    const calc = new PolicyCalculator();
    const before = calc.update(calcInput([web, db, api], [dbPolicy, apiPolicy], profiles)).v4;
    const changed = networkPolicy('a', 'db', { selector: "app == 'db'", ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "app == 'web'" }, destination: { ports: [5432] } }] });
    const after = calc.update(calcInput([web, db, api], [changed, apiPolicy], profiles)).v4;
    expect(diff(before, after)).toEqual({ chains: [policyChainName(dbPolicy, 'ingress')], ipsets: [] });
  });
  it('of order changes the jump order in the endpoint chains that use it, nothing else', () => {
    const calc = new PolicyCalculator();
    const p1 = globalPolicy('p1', { order: 1, ingress: [{ action: 'Log' }] });
    const p2 = globalPolicy('p2', { order: 2, ingress: [{ action: 'Log' }] });
    const before = calc.update(calcInput([web, db], [p1, p2], profiles)).v4;
    const p1late = globalPolicy('p1', { order: 3, ingress: [{ action: 'Log' }] });
    const after = calc.update(calcInput([web, db], [p1late, p2], profiles)).v4;
    expect(diff(before, after).chains).toEqual([`cali-tw-${web.iface}`, `cali-tw-${db.iface}`].sort());
  });
  it('adding an endpoint adds its chains and dispatch entries, and its address to the sets that select it', () => {
    const calc = new PolicyCalculator();
    const before = calc.update(calcInput([web, db, api], [dbPolicy, apiPolicy], profiles)).v4;
    const web3 = mk('a', 'web3', 'web', 9);
    const after = calc.update(calcInput([web, db, api, web3], [dbPolicy, apiPolicy], profiles)).v4;
    expect(diff(before, after)).toEqual({
      chains: ['cali-from-wl-dispatch', `cali-fw-${web3.iface}`, 'cali-to-wl-dispatch', `cali-tw-${web3.iface}`].sort(),
      ipsets: [setOf(after, policyChainName(dbPolicy, 'ingress'))],
    });
  });
});

describe('the incremental calculator', () => {
  it('always equals a render from scratch (inputs in any order), over random sequences of changes', () => {
    const labels = fc.constantFrom('web', 'db', 'api');
    const pods = fc.array(fc.record({ ns: fc.constantFrom('a', 'b'), app: labels, local: fc.boolean(), n: fc.integer({ min: 1, max: 6 }) }), { maxLength: 6 });
    const policies = fc.array(
      fc.record({ global: fc.boolean(), name: fc.constantFrom('p', 'q', 'r'), order: fc.constantFrom(1, 2), sel: labels, src: labels, port: fc.constantFrom(80, 443) }),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(fc.array(fc.record({ pods, policies }), { minLength: 1, maxLength: 6 }), (steps) => {
        const calc = new PolicyCalculator();
        for (const step of steps) {
          const eps = new Map<string, { ep: PolicyEndpoint; local: boolean }>();
          for (const p of step.pods) eps.set(`${p.ns}/p${p.n}`, { ep: pod(p.ns, `p${p.n}`, { labels: { app: p.app }, ips: [`10.65.0.${p.n}/32`] }, profiles), local: p.local });
          const all = [...eps.values()];
          // Interfaces come from a counter in the fixture: pin them to the key so a pod keeps its iface.
          const fixed = all.map(({ ep, local }) => ({ ep: { ...ep, iface: `cali${ep.key.replace('/', '')}` }, local }));
          const ps = new Map<string, PolicyInput>();
          for (const p of step.policies) {
            const spec = { order: p.order, selector: `app == '${p.sel}'`, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == '${p.src}'` }, destination: { ports: [p.port] } }] };
            ps.set(`${p.global}${p.name}`, p.global ? globalPolicy(p.name, spec) : networkPolicy('a', p.name, spec));
          }
          const input = calcInput(
            fixed.map((x) => x.ep),
            [...ps.values()],
            profiles,
            fixed.filter((x) => x.local).map((x) => x.ep),
          );
          const inc = calc.update(input);
          // From scratch, with every list in reverse: order of input never matters.
          const full = computePolicyState({ ...input, localEndpoints: [...input.localEndpoints].reverse(), allEndpoints: [...input.allEndpoints].reverse(), policies: [...input.policies].reverse() });
          expect(JSON.stringify([...inc.v4.chains, ...inc.v4.ipsets])).toBe(JSON.stringify([...full.v4.chains, ...full.v4.ipsets]));
          expect(JSON.stringify([...inc.v6.chains, ...inc.v6.ipsets])).toBe(JSON.stringify([...full.v6.chains, ...full.v6.ipsets]));
        }
      }),
      { numRuns: Number(process.env.TORTIE_PROPERTY_RUNS ?? 200) },
    );
  });
});
