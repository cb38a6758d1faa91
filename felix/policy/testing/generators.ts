// fast-check generators of small random policy models (pods, Calico and global policies with
// every kind of rule field, namespace profiles), shared by the trace/chains property test and
// the kernel acceptance test.
import fc from 'fast-check';
import type { TraceModel } from '../trace.js';
import type { PolicyEndpoint, PolicyInput, ProfileInput } from '../types.js';
import { globalPolicy, namespaceProfile, networkPolicy, pod } from './fixtures.js';

const SELECTORS = ["app == 'web'", "app == 'db'", "app in {'db', 'api'}", 'has(tier)', "tier != '1'", 'all()'];
const NS_SELECTORS = ["team == 'x'", "team == 'y'", 'all()'];
const NETS = ['10.65.0.0/24', '10.65.0.2/32', '10.65.0.0/30', '192.168.0.0/16', '192.168.1.0/24'];
const PORTS: (number | string)[] = [80, 8080, '8000:8100', 'http', 22];

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const some = <T>(a: fc.Arbitrary<T>, max = 2) => opt(fc.uniqueArray(a, { minLength: 1, maxLength: max }));

const entity = (withPorts: boolean) =>
  fc
    .record({
      selector: opt(fc.constantFrom(...SELECTORS)),
      notSelector: opt(fc.constantFrom(...SELECTORS)),
      namespaceSelector: opt(fc.constantFrom(...NS_SELECTORS)),
      nets: some(fc.constantFrom(...NETS)),
      notNets: some(fc.constantFrom(...NETS)),
      ports: withPorts ? some(fc.constantFrom(...PORTS), 3) : fc.constant(undefined),
      notPorts: withPorts ? some(fc.constantFrom(...PORTS)) : fc.constant(undefined),
    })
    .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)));

const rule = fc
  .record({
    action: fc.constantFrom('Allow', 'Allow', 'Deny', 'Pass', 'Log'),
    protocol: opt(fc.constantFrom<string | number>('TCP', 'UDP', 'ICMP', 17)),
    notProtocol: fc.option(fc.constantFrom<string | number>('TCP', 'UDP'), { nil: undefined, freq: 6 }),
    icmpType: fc.option(fc.constantFrom(8, 0), { nil: undefined, freq: 1 }),
  })
  .chain((r) => {
    const ports = r.protocol === 'TCP' || r.protocol === 'UDP' || r.protocol === 17;
    return fc.record({ source: opt(entity(ports)), destination: opt(entity(ports)) }).map((sides) => {
      const out: Record<string, unknown> = { action: r.action };
      if (r.protocol !== undefined) out.protocol = r.protocol;
      if (r.notProtocol !== undefined) out.notProtocol = r.notProtocol;
      if (r.protocol === 'ICMP' && r.icmpType !== undefined) out.icmp = { type: r.icmpType };
      if (sides.source) out.source = sides.source;
      if (sides.destination) out.destination = sides.destination;
      return out;
    });
  });

export const policy = fc.record({
  global: fc.boolean(),
  namespace: fc.constantFrom('a', 'b'),
  order: opt(fc.constantFrom(1, 10, 1000)),
  selector: fc.constantFrom(...SELECTORS),
  ingress: fc.array(rule, { maxLength: 3 }),
  egress: fc.array(rule, { maxLength: 3 }),
  types: fc.constantFrom<string[] | undefined>(undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']),
});

export const podSpec = fc.record({
  ns: fc.constantFrom('a', 'b'),
  app: fc.constantFrom('web', 'db', 'api'),
  tier: opt(fc.constantFrom('1', '2')),
  httpPort: opt(fc.constantFrom(80, 8080, 8050)),
  v6: fc.boolean(),
});

export type Drawn<A> = A extends fc.Arbitrary<infer T> ? T : never;

export function buildModel(pods: Drawn<typeof podSpec>[], pols: Drawn<typeof policy>[], bDeniesUdp: boolean): TraceModel {
  const profiles: ProfileInput[] = [namespaceProfile('a', { team: 'x' }), namespaceProfile('b', { team: 'y' })];
  if (bDeniesUdp) profiles[1] = { ...profiles[1], spec: { ...profiles[1].spec, ingress: [{ action: 'Deny', protocol: 'UDP' }, { action: 'Allow' }] } };
  const endpoints: PolicyEndpoint[] = pods.map((p, i) =>
    pod(p.ns, `p${i}`, { labels: { app: p.app, ...(p.tier ? { tier: p.tier } : {}) }, ips: [`10.65.0.${i + 1}/32`, ...(p.v6 ? [`fd00::${i + 1}/128`] : [])], ports: p.httpPort ? [{ name: 'http', protocol: 'TCP', port: p.httpPort }] : undefined }, profiles),
  );
  const policies: PolicyInput[] = [];
  pols.forEach((p, i) => {
    const spec: Record<string, unknown> = { selector: p.selector };
    if (p.order !== undefined) spec.order = p.order;
    const types = p.types ?? [...(p.ingress.length ? ['Ingress'] : []), ...(p.egress.length ? ['Egress'] : [])];
    if (types.length) spec.types = types;
    if (types.includes('Ingress') && p.ingress.length) spec.ingress = p.ingress;
    if (types.includes('Egress') && p.egress.length) spec.egress = p.egress;
    try {
      policies.push(p.global ? globalPolicy(`g${i}`, spec) : networkPolicy(p.namespace, `n${i}`, spec));
    } catch {
      // Drawn rules the model refuses (e.g. notNets of a /32 with ipVersion clash) are skipped.
    }
  });
  return { endpoints, policies, profiles };
}

/** A whole random model: 2–5 pods, up to 4 policies, sometimes a profile that denies UDP. */
export const randomModel = fc.tuple(fc.array(podSpec, { minLength: 2, maxLength: 5 }), fc.array(policy, { maxLength: 4 }), fc.boolean()).map(([pods, pols, b]) => buildModel(pods, pols, b));
