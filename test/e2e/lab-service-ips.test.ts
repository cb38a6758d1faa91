// Service IP advertisement as Calico does it, against a real kube-apiserver and a BIRD ToR: the
// lab on the Kubernetes datastore (3 hosts, the node-to-node mesh off as in a ToR design: each
// node peers with the ToR alone), the default BGPConfiguration's serviceClusterIPs /
// serviceExternalIPs / serviceLoadBalancerIPs. Services are created, their EndpointSlices (no
// kubelet or controller-manager here: written with kubectl, nodeName set) scaled across nodes,
// and both deleted; the ToR's `show route all` gains and loses exactly the prefixes, each with
// the nodes holding a ready endpoint as next hops.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bird } from '../harness/bird.js';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';
import { ctl, labInfo } from './policy-helpers.js';

const t = testLab('svcip');
const TOR_IP = '10.0.0.250';
const TOR_AS = 65010;
const RANGES = { cluster: '10.96.0.0/16', external: '192.0.2.0/24', loadBalancer: '198.51.100.0/24' };
const LOCAL_EXT = '192.0.2.10';
const LOCAL_LB = '198.51.100.10';
const CLUSTER_EXT = '192.0.2.20';
/** What the ToR announces to the nodes: one route inside the cluster-IP range, one outside. */
const TOR_SERVICE_ROUTE = '10.96.200.0/24';
const TOR_OTHER_ROUTE = '198.18.0.0/15';

describe('lab: Service IPs advertised to a BIRD ToR (Kubernetes datastore)', () => {
  let tor: Bird | undefined;
  let nodes: Array<{ name: string; ip: string }> = [];
  let localClusterIP = '';
  let clusterClusterIP = '';

  /** kubectl against the lab's apiserver, from the namespace it listens in. */
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const s = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { etcdNs: string; kube: { binDir: string; kubeconfig: string } };
    return (await run('ip', ['netns', 'exec', s.etcdNs, join(s.kube.binDir, 'kubectl'), '--kubeconfig', s.kube.kubeconfig, ...args], input === undefined ? {} : { input })).stdout;
  };
  const apply = (obj: object): Promise<string> => kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  const ip = (name: string): string => nodes.find((n) => n.name === name)?.ip ?? '';
  /** The ToR's next hops for a prefix (one per path it holds), sorted. */
  const hops = async (prefix: string): Promise<string[]> =>
    ((await tor?.routes()) ?? [])
      .filter((r) => r.prefix === prefix)
      .map((r) => r.attrs['BGP.next_hop'] ?? '')
      .sort();
  /** Waits until the ToR holds exactly these next hops for each prefix ([] = no route). */
  const expectHops = async (want: Record<string, string[]>, timeoutMs = 60_000): Promise<void> => {
    let seen: Record<string, string[]> = {};
    try {
      await eventually(async () => {
        seen = {};
        for (const p of Object.keys(want)) seen[p] = await hops(p);
        return Object.keys(want).every((p) => JSON.stringify(seen[p]) === JSON.stringify([...(want[p] ?? [])].sort())) ? true : undefined;
      }, timeoutMs);
    } catch {
      expect(seen).toEqual(Object.fromEntries(Object.entries(want).map(([p, h]) => [p, [...h].sort()])));
    }
  };
  const slice = (name: string, service: string, eps: Array<{ node: string; ready: boolean }>): object => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'lab-service-ips-test' } },
    addressType: 'IPv4',
    ports: [{ port: 80, protocol: 'TCP' }],
    endpoints: eps.map((e, i) => ({ addresses: [`10.65.${i}.${i + 10}`], nodeName: e.node, conditions: { ready: e.ready } })),
  });
  const all = (): string[] => nodes.map((n) => n.ip);
  const localPrefixes = (): string[] => [`${localClusterIP}/32`, `${LOCAL_EXT}/32`, `${LOCAL_LB}/32`];
  const localAt = (names: string[]): Record<string, string[]> => Object.fromEntries(localPrefixes().map((p) => [p, names.map(ip)]));

  beforeAll(async () => {
    await t.down();
    await t.lab(['up', '--datastore', 'kubernetes', '--nodes', '3', '--pods-per-node', '0']);
    nodes = labInfo(t).nodes.map((n) => ({ name: n.name, ip: n.ip.split('/')[0] ?? '' }));
    await t.lab(['attach', 'tor', '--ip', `${TOR_IP}/24`]);
    tor = await Bird.start(
      t.ns('x-tor'),
      `router id ${TOR_IP};
protocol device {}
protocol static s4 { ipv4; route ${TOR_SERVICE_ROUTE} blackhole; route ${TOR_OTHER_ROUTE} blackhole; }
template bgp node { local ${TOR_IP} as ${TOR_AS}; hold time 9; connect retry time 1; error wait time 1,2; ipv4 { import all; export where proto = "s4"; }; }
${nodes.map((n) => `protocol bgp ${n.name} from node { neighbor ${n.ip} as 64512; }`).join('\n')}
`,
    );
    // The ToR design: no node-to-node mesh, every node peers with the ToR (a global BGPPeer).
    const resources = [
      { kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, serviceClusterIPs: [{ cidr: RANGES.cluster }], serviceExternalIPs: [{ cidr: RANGES.external }], serviceLoadBalancerIPs: [{ cidr: RANGES.loadBalancer }] } },
      { kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: TOR_IP, asNumber: TOR_AS } },
    ];
    await ctl(t, ['apply', '-f', '-'], resources.map((r) => JSON.stringify({ apiVersion: 'projectcalico.org/v3', ...r })).join('\n---\n'));
    await eventually(async () => ((await tor?.protocols())?.filter((p) => p.info === 'Established').length === nodes.length ? true : undefined), 120_000);
  }, 420_000);

  afterAll(async () => {
    await tor?.stop();
    await t.down();
  });

  it('the three configured ranges come from every node', async () => {
    await expectHops({ [RANGES.cluster]: all(), [RANGES.external]: all(), [RANGES.loadBalancer]: all() });
  });

  it("a route learned inside a service range is not programmed into the kernel (Calico's BIRD kernel filter); others are", async () => {
    for (const n of nodes) {
      const routes = await eventually(async () => {
        const r = await t.exec(t.ns(n.name), ['ip', 'route', 'show', 'proto', '80']);
        return r.includes(`${TOR_OTHER_ROUTE} via ${TOR_IP}`) ? r : undefined;
      }, 60_000);
      expect(routes).not.toContain(TOR_SERVICE_ROUTE);
      expect(routes).not.toContain('10.96.');
    }
  });

  it('a LoadBalancer Service with externalTrafficPolicy Local: cluster, external and load-balancer IPs as /32s from the nodes with a ready endpoint', async () => {
    // First a Cluster-policy Service with an external IP and an endpoint: covered by the ranges only.
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-cluster', namespace: 'default' }, spec: { type: 'ClusterIP', externalIPs: [CLUSTER_EXT], ports: [{ port: 80, protocol: 'TCP' }] } });
    await apply(slice('web-cluster-1', 'web-cluster', [{ node: 'node1', ready: true }]));
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-local', namespace: 'default' },
      spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', externalIPs: [LOCAL_EXT], ports: [{ port: 80, protocol: 'TCP' }] },
    });
    await kubectl(['patch', 'service', 'web-local', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LOCAL_LB }] } } })]);
    const svc = (name: string): Promise<{ spec: { clusterIP: string } }> => kubectl(['get', 'service', name, '-o', 'json']).then((o) => JSON.parse(o) as { spec: { clusterIP: string } });
    localClusterIP = (await svc('web-local')).spec.clusterIP;
    clusterClusterIP = (await svc('web-cluster')).spec.clusterIP;
    expect(localClusterIP).toMatch(/^10\.96\./);

    await apply(slice('web-local-1', 'web-local', [
      { node: 'node1', ready: true },
      { node: 'node2', ready: true },
      { node: 'node3', ready: false },
    ]));
    await expectHops(localAt(['node1', 'node2']));
    // web-cluster and its slice came first on both watches: the agents have seen them too.
    await expectHops({ [`${clusterClusterIP}/32`]: [], [`${CLUSTER_EXT}/32`]: [] }, 1000);
  });

  it('scaled: endpoints move with the slices (node1 goes, node3 becomes ready, a second slice adds node1 back)', async () => {
    await apply(slice('web-local-1', 'web-local', [
      { node: 'node2', ready: true },
      { node: 'node3', ready: true },
    ]));
    await expectHops(localAt(['node2', 'node3']));
    await apply(slice('web-local-1', 'web-local', [{ node: 'node3', ready: true }]));
    await expectHops(localAt(['node3']));
    await apply(slice('web-local-2', 'web-local', [{ node: 'node1', ready: true }]));
    await expectHops(localAt(['node1', 'node3']));
  });

  it('withdrawn when the last local endpoint goes, and when the Service goes; the ranges stay', async () => {
    await kubectl(['delete', 'endpointslice', 'web-local-1', 'web-local-2']);
    await expectHops(localAt([]));
    await apply(slice('web-local-3', 'web-local', [{ node: 'node2', ready: true }]));
    await expectHops(localAt(['node2']));
    await kubectl(['delete', 'service', 'web-local']);
    await expectHops(localAt([]));
    await expectHops({ [RANGES.cluster]: all(), [RANGES.external]: all(), [RANGES.loadBalancer]: all() }, 1000);
  });
});
