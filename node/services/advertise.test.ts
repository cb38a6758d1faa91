// Service IP advertisement as Calico's route generator decides it: ranges from every node, a
// Local Service's own addresses only from nodes with a ready endpoint, Cluster Services only
// through the ranges (unless a single-address entry names them).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixToString } from '../../bgp/types.js';
import { inServiceRanges, SERVICE_NAME_LABEL, servicePrefixes, type EndpointSliceInput, type ServiceInput, type ServiceIpConfig } from './advertise.js';

const CFG: ServiceIpConfig = {
  serviceClusterIPs: [{ cidr: '10.96.0.0/16' }, { cidr: 'fd00:96::/112' }],
  serviceExternalIPs: [{ cidr: '192.0.2.0/24' }],
  serviceLoadBalancerIPs: [{ cidr: '198.51.100.0/24' }],
};
const RANGES = ['10.96.0.0/16', '192.0.2.0/24', '198.51.100.0/24', 'fd00:96::/112'];

const svc = (name: string, spec: ServiceInput['spec'], lb: string[] = [], namespace = 'default'): ServiceInput => ({
  metadata: { namespace, name },
  spec,
  status: { loadBalancer: { ingress: lb.map((ip) => ({ ip })) } },
});
const slice = (service: string, eps: Array<{ node: string; ready?: boolean | null }>, addressType = 'IPv4', namespace = 'default', name = `${service}-x`): EndpointSliceInput => ({
  metadata: { namespace, name, labels: { [SERVICE_NAME_LABEL]: service } },
  addressType,
  endpoints: eps.map((e, i) => ({ addresses: [addressType === 'IPv6' ? `fd00:10::${i + 1}` : `10.65.0.${i + 1}`], nodeName: e.node, ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }) })),
});
const on = (node: string, services: ServiceInput[], slices: EndpointSliceInput[], cfg = CFG): string[] => servicePrefixes(cfg, services, slices, node).map(prefixToString);

describe('the configured ranges', () => {
  it('are advertised from every node, with no Service at all, in family then address order', () => {
    expect(on('a', [], [])).toEqual(RANGES);
    expect(on('b', [], [])).toEqual(RANGES);
  });

  it('nothing configured: nothing advertised, whatever the Services', () => {
    const local = svc('web', { type: 'LoadBalancer', clusterIP: '10.96.0.10', externalTrafficPolicy: 'Local' }, ['198.51.100.7']);
    expect(on('a', [local], [slice('web', [{ node: 'a' }])], {})).toEqual([]);
  });

  it('a Cluster-policy Service adds nothing beyond the ranges (kube-proxy forwards from any node)', () => {
    const services = [
      svc('c1', { type: 'ClusterIP', clusterIP: '10.96.0.5' }),
      svc('c2', { type: 'LoadBalancer', clusterIP: '10.96.0.6', externalTrafficPolicy: 'Cluster', externalIPs: ['192.0.2.9'] }, ['198.51.100.9']),
    ];
    expect(on('a', services, [slice('c1', [{ node: 'a' }]), slice('c2', [{ node: 'a' }])])).toEqual(RANGES);
  });
});

describe('externalTrafficPolicy Local', () => {
  const web = svc('web', { type: 'LoadBalancer', clusterIP: '10.96.0.10', externalIPs: ['192.0.2.10', '203.0.113.1'], externalTrafficPolicy: 'Local' }, ['198.51.100.10', '203.0.113.2']);

  it('its cluster, external and load-balancer IPs inside the ranges, as /32s, only from nodes with a ready endpoint', () => {
    const slices = [slice('web', [{ node: 'a' }, { node: 'b', ready: false }])];
    expect(on('a', [web], slices)).toEqual(['10.96.0.0/16', '10.96.0.10/32', '192.0.2.0/24', '192.0.2.10/32', '198.51.100.0/24', '198.51.100.10/32', 'fd00:96::/112']);
    expect(on('b', [web], slices)).toEqual(RANGES); // not ready
    expect(on('c', [web], slices)).toEqual(RANGES); // no endpoint
  });

  it('an endpoint with no ready condition counts as ready (Kubernetes: unknown is ready)', () => {
    expect(on('a', [web], [slice('web', [{ node: 'a', ready: null }])])).toContain('10.96.0.10/32');
  });

  it('endpoints spread over several slices: each node sees its own; the Service in another namespace is another Service', () => {
    const slices = [slice('web', [{ node: 'a' }], 'IPv4', 'default', 'web-1'), slice('web', [{ node: 'b' }], 'IPv4', 'default', 'web-2'), slice('web', [{ node: 'c' }], 'IPv4', 'other')];
    expect(on('a', [web], slices)).toContain('10.96.0.10/32');
    expect(on('b', [web], slices)).toContain('10.96.0.10/32');
    expect(on('c', [web], slices)).toEqual(RANGES);
  });

  it('withdrawn when the last local endpoint or the Service goes', () => {
    expect(on('a', [web], [slice('web', [{ node: 'b' }])])).toEqual(RANGES);
    expect(on('a', [web], [slice('web', [])])).toEqual(RANGES);
    expect(on('a', [], [slice('web', [{ node: 'a' }])])).toEqual(RANGES);
  });

  it('dual stack: each family only where an endpoint of that family is local', () => {
    const ds = svc('ds', { type: 'NodePort', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00:96::20'], externalTrafficPolicy: 'Local' });
    expect(on('a', [ds], [slice('ds', [{ node: 'a' }], 'IPv6')])).toEqual([...RANGES, 'fd00:96::20/128']);
    expect(on('a', [ds], [slice('ds', [{ node: 'a' }], 'IPv4'), slice('ds', [{ node: 'a' }], 'IPv6', 'default', 'ds-6')])).toEqual([
      '10.96.0.0/16',
      '10.96.0.20/32',
      '192.0.2.0/24',
      '198.51.100.0/24',
      'fd00:96::/112',
      'fd00:96::20/128',
    ]);
  });

  it('headless, ExternalName and unparseable Services, and slices without the service-name label, add nothing', () => {
    const services = [
      svc('h', { clusterIP: 'None', externalTrafficPolicy: 'Local' }),
      svc('n', { type: 'ExternalName', clusterIP: '10.96.0.30', externalTrafficPolicy: 'Local' }),
      svc('bad', { clusterIP: 'not-an-ip', externalIPs: ['x'], externalTrafficPolicy: 'Local' }, ['also-bad']),
      svc('orphan', { clusterIP: '10.96.0.31', externalTrafficPolicy: 'Local' }),
    ];
    const unlabelled: EndpointSliceInput = { metadata: { namespace: 'default', name: 'orphan-x' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.65.0.1'], nodeName: 'a' }] };
    const fqdn = slice('n', [{ node: 'a' }], 'FQDN');
    expect(on('a', services, [slice('h', [{ node: 'a' }]), fqdn, slice('bad', [{ node: 'a' }]), unlabelled])).toEqual(RANGES);
  });
});

describe('Cluster policy with a single-address entry (Calico: the address is then advertised from every node)', () => {
  const cfg: ServiceIpConfig = { serviceClusterIPs: [{ cidr: '10.96.0.0/16' }], serviceExternalIPs: [{ cidr: '192.0.2.5/32' }], serviceLoadBalancerIPs: [{ cidr: '198.51.100.7/32' }] };
  it('a LoadBalancer whose ingress IP is a /32 entry: all its addresses, with no endpoint anywhere', () => {
    const lb = svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.40' }, ['198.51.100.7']);
    expect(on('z', [lb], [], cfg)).toEqual(['10.96.0.0/16', '10.96.0.40/32', '192.0.2.5/32', '198.51.100.7/32']);
  });
  it('an external IP that is a /32 entry', () => {
    const ext = svc('ext', { type: 'ClusterIP', clusterIP: '10.96.0.41', externalIPs: ['192.0.2.5'] });
    expect(on('z', [ext], [], cfg)).toEqual(['10.96.0.0/16', '10.96.0.41/32', '192.0.2.5/32', '198.51.100.7/32']);
  });
  it('a ClusterIP Service with an LB ingress does not count (only type LoadBalancer)', () => {
    const odd = svc('odd', { type: 'ClusterIP', clusterIP: '10.96.0.42' }, ['198.51.100.7']);
    expect(on('z', [odd], [], cfg)).toEqual(['10.96.0.0/16', '192.0.2.5/32', '198.51.100.7/32']);
  });
});

describe('learned routes inside the ranges stay out of the kernel', () => {
  it('matches the ranges and anything inside them, nothing else', () => {
    expect(inServiceRanges(CFG, '10.96.0.0/16')).toBe(true);
    expect(inServiceRanges(CFG, '10.96.3.4/32')).toBe(true);
    expect(inServiceRanges(CFG, 'fd00:96::9/128')).toBe(true);
    expect(inServiceRanges(CFG, '10.96.0.0/15')).toBe(false);
    expect(inServiceRanges(CFG, '10.65.0.0/26')).toBe(false);
    expect(inServiceRanges(CFG, '0.0.0.0/0')).toBe(false);
    expect(inServiceRanges({}, '10.96.3.4/32')).toBe(false);
  });
});

// Properties over arbitrary clusters: a handful of nodes, Local and Cluster Services with
// addresses in and out of the ranges, slices spreading endpoints over the nodes.
const NODES = ['n1', 'n2', 'n3'];
const ipIn = (base: string): fc.Arbitrary<string> => fc.integer({ min: 1, max: 254 }).map((i) => `${base}.${i}`);
const arbService = fc.record({
  name: fc.constantFrom('s1', 's2', 's3', 's4'),
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', undefined),
  clusterIP: fc.oneof(ipIn('10.96.0'), ipIn('10.97.0'), fc.constant('None')),
  externalIPs: fc.array(fc.oneof(ipIn('192.0.2'), ipIn('203.0.113')), { maxLength: 2 }),
  lb: fc.array(fc.oneof(ipIn('198.51.100'), ipIn('203.0.113')), { maxLength: 2 }),
  policy: fc.constantFrom('Local', 'Cluster', undefined),
});
const arbSlice = fc.record({
  service: fc.constantFrom('s1', 's2', 's3', 's4'),
  eps: fc.array(fc.record({ node: fc.constantFrom(...NODES, 'other'), ready: fc.constantFrom(true, false, null, undefined) }), { maxLength: 4 }),
});
const arbCluster = fc.record({
  services: fc.uniqueArray(arbService, { selector: (s) => s.name, maxLength: 4 }).map((l) =>
    l.map((s) => svc(s.name, { ...(s.type ? { type: s.type } : {}), clusterIP: s.clusterIP, externalIPs: s.externalIPs, ...(s.policy ? { externalTrafficPolicy: s.policy } : {}) }, s.lb)),
  ),
  slices: fc.array(arbSlice, { maxLength: 5 }).map((l) => l.map((s, i) => slice(s.service, s.eps, 'IPv4', 'default', `${s.service}-${i}`))),
});

describe('properties', () => {
  it('every node advertises every range; anything else is a single address inside a range', () => {
    fc.assert(
      fc.property(arbCluster, fc.constantFrom(...NODES), ({ services, slices }, node) => {
        const out = on(node, services, slices);
        for (const r of RANGES) expect(out).toContain(r);
        for (const p of out.filter((x) => !RANGES.includes(x))) {
          expect(p).toMatch(/\/(32|128)$/);
          expect(inServiceRanges(CFG, p)).toBe(true);
        }
      }),
    );
  });

  it('a single address is advertised by a node exactly when a Local Service has a ready endpoint there', () => {
    fc.assert(
      fc.property(arbCluster, fc.constantFrom(...NODES), ({ services, slices }, node) => {
        const extra = on(node, services, slices).filter((x) => !RANGES.includes(x));
        const holders = new Set(
          services
            .filter((s) => s.spec?.externalTrafficPolicy === 'Local' && s.spec.clusterIP !== 'None' && s.spec.type !== 'ExternalName')
            .filter((s) => slices.some((sl) => sl.metadata.labels?.[SERVICE_NAME_LABEL] === s.metadata.name && sl.endpoints?.some((e) => e.nodeName === node && e.conditions?.ready !== false))),
        );
        const want = new Set<string>();
        for (const s of holders) {
          for (const ip of [s.spec?.clusterIP ?? '', ...(s.spec?.externalIPs ?? []), ...(s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '')]) {
            if (inServiceRanges(CFG, `${ip}/32`)) want.add(`${ip}/32`);
          }
        }
        expect(new Set(extra)).toEqual(want);
      }),
    );
  });

  it('the order of Services and slices does not matter, and the output is sorted without duplicates', () => {
    fc.assert(
      fc.property(arbCluster, fc.constantFrom(...NODES), ({ services, slices }, node) => {
        const a = on(node, services, slices);
        expect(on(node, [...services].reverse(), [...slices].reverse())).toEqual(a);
        expect(new Set(a).size).toBe(a.length);
      }),
    );
  });

  it('deleting a Service withdraws every address no remaining Service has', () => {
    fc.assert(
      fc.property(arbCluster, fc.constantFrom(...NODES), fc.nat(), ({ services, slices }, node, pick) => {
        fc.pre(services.length > 0);
        const gone = services[pick % services.length];
        const rest = services.filter((s) => s !== gone);
        const owned = new Set(rest.flatMap((s) => [s.spec?.clusterIP, ...(s.spec?.externalIPs ?? []), ...(s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip)].map((ip) => `${ip}/32`)));
        for (const p of on(node, rest, slices)) expect(RANGES.includes(p) || owned.has(p)).toBe(true);
      }),
    );
  });
});
