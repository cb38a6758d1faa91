// Host endpoints never cut the pod network: in a two-host VXLAN lab with a default-deny HEP on
// each node's eth0 (no policy at all), pod ↔ pod across the nodes still works — the VXLAN packets
// come from another node's address (the all-hosts set) — while the hosts' own ports are closed to
// a client on the fabric and the failsafe ports (ssh here; etcd for the agents) stay open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLab } from './lab-helpers.js';
import { ctl, labInfo, ping, populate, Procs, tcp, verdicts, type Pod, type Probe } from './policy-helpers.js';

const lab = testLab('hepx');
const procs = new Procs();
const EXT = '10.0.0.61';
let nodes: { name: string; ns: string; ip: string }[] = [];
let a: Pod;
let b: Pod;
let ext = '';

const hep = (node: string, ip: string): string => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${node}-eth0
  labels: {role: k8s-node}
spec:
  node: ${node}
  interfaceName: eth0
  expectedIPs: ["${ip}"]
`;

const probes = (hepsOn: boolean): Probe[] => [
  { label: 'a (node1) → b (node2):8080 over VXLAN', want: true, probe: () => tcp(a.ns, b.ip, 8080) },
  { label: 'b (node2) → a (node1):8080 over VXLAN', want: true, probe: () => tcp(b.ns, a.ip, 8080) },
  { label: 'ping a → b', want: true, probe: () => ping(a.ns, b.ip) },
  ...nodes.map((n) => ({ label: `ext → ${n.name}:9090`, want: !hepsOn, probe: () => tcp(ext, n.ip, 9090) })),
  ...nodes.map((n) => ({ label: `ext → ${n.name}:22 (failsafe)`, want: true, probe: () => tcp(ext, n.ip, 22) })),
];

beforeAll(async () => {
  await lab.down();
  await lab.lab(['up', '--nodes', '2', '--encap', 'vxlan', '--pods-per-node', '0']);
  await populate(lab, { default: {} }, [
    { name: 'a', namespace: 'default', labels: { app: 'a' }, node: 'node1' },
    { name: 'b', namespace: 'default', labels: { app: 'b' }, node: 'node2' },
  ]);
  await lab.lab(['attach', 'ext', '--ip', `${EXT}/24`]);
  const info = labInfo(lab);
  nodes = info.nodes.map((n) => ({ ...n, ip: n.ip.split('/')[0] ?? '' }));
  const find = (name: string): Pod => {
    const p = info.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  };
  a = find('a');
  b = find('b');
  ext = lab.ns('x-ext');
  for (const p of [a, b]) procs.listen(p.ns, [8080]);
  for (const n of nodes) procs.listen(n.ns, [22, 9090]);
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
});

describe('host endpoints with VXLAN', () => {
  it('before: pods reach each other, the hosts are open', async () => {
    expect(await verdicts(probes(false), 30_000)).toEqual([]);
  });

  it('default-deny HEPs on both eth0s: VXLAN between the nodes still carries pod traffic; host ports close', async () => {
    await ctl(lab, ['apply', '-f', '-'], nodes.map((n) => hep(n.name, n.ip)).join('---\n'));
    expect(await verdicts(probes(true), 30_000)).toEqual([]);
  });
});
