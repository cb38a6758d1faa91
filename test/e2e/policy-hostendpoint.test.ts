// Calico HostEndpoints enforced by tortie-node on real packets, in a two-host lab: a client on the
// fabric (ext) talks to node1's own listeners through node1's eth0. With no HEP everything is
// open; a HEP on eth0 with no policy leaves only the failsafe ports (tcp 22, tcp 179 — BGP) and
// cuts the host's new outbound connections except failsafe ones (etcd 2379 keeps tortiectl and
// the agent working); a GlobalNetworkPolicy selecting the HEP's labels opens tcp 8080 and nothing
// else (and policy trace says the same); FelixConfiguration replaces the failsafe ports;
// applyOnForward policy reaches forwarded traffic, normal policy does not; deleting the HEP
// restores open access; a HEP with expectedIPs only lands on the interface holding the address;
// the "*" HEP covers every interface but loopback. Pod traffic
// (forwarded, and pod → its own host) is never touched by host endpoint policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLab } from './lab-helpers.js';
import { ctl, labInfo, ourChains, ping, populate, Procs, tcp, verdicts, type Pod, type Probe } from './policy-helpers.js';
import { run } from '../harness/exec.js';

const lab = testLab('hep');
const procs = new Procs();
const EXT = '10.0.0.60';
let node1 = { name: '', ns: '', ip: '' };
let node2 = { name: '', ns: '', ip: '' };
let web: Pod;
let cli: Pod;
let ext = '';

const HEP = (iface: string, name = 'node1-eth0'): string => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${name}
  labels:
    role: k8s-node
    host-endpoint: ${iface === '*' ? 'all' : iface}
spec:
  node: node1
  interfaceName: "${iface}"
  expectedIPs: ["${node1.ip}"]
`;
const ALLOW_8080 = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-8080
spec:
  selector: role == 'k8s-node'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [8080]
`;
const FWD_DENY_EXT = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: fwd-deny-ext
spec:
  order: 10
  selector: role == 'k8s-node'
  applyOnForward: true
  ingress:
  - action: Deny
    protocol: TCP
    source:
      nets: ["${EXT}/32"]
    destination:
      ports: [8080]
  - action: Allow
`;

const toHost = (port: number, want: boolean): Probe => ({ label: `ext → node1:${port}`, want, probe: () => tcp(ext, node1.ip, port) });
const pingHost = (want: boolean): Probe => ({ label: 'ping ext → node1', want, probe: () => ping(ext, node1.ip) });
const fromHost = (want: boolean): Probe => ({ label: `node1 → ext:5000 (new outbound)`, want, probe: () => tcp(node1.ns, EXT, 5000) });
/** Pod traffic: forwarded through node1's eth0 to its pod, across nodes, and pod → own host. */
const podProbes = (extToWeb = true): Probe[] => [
  { label: 'ext → web:8080 (forwarded)', want: extToWeb, probe: () => tcp(ext, web.ip, 8080) },
  { label: 'cli (node2 pod) → web:8080', want: true, probe: () => tcp(cli.ns, web.ip, 8080) },
  { label: 'web → node1:9090 (workload → own host)', want: true, probe: () => tcp(web.ns, node1.ip, 9090) },
  { label: 'ping ext → web', want: true, probe: () => ping(ext, web.ip) },
];

/** Our rules in node1's INPUT / OUTPUT built-ins (jumps to cali- chains). */
async function hooks(): Promise<string[]> {
  const text = (await run('ip', ['netns', 'exec', node1.ns, 'iptables-save', '-t', 'filter'])).stdout;
  return text.split('\n').filter((l) => /^-A (INPUT|OUTPUT) .*-j cali-/.test(l));
}

beforeAll(async () => {
  await lab.down();
  await lab.lab(['up', '--nodes', '2', '--pods-per-node', '0']);
  await populate(lab, { default: {} }, [
    { name: 'web', namespace: 'default', labels: { app: 'web' }, node: 'node1' },
    { name: 'cli', namespace: 'default', labels: { app: 'cli' }, node: 'node2' },
  ]);
  await lab.lab(['attach', 'ext', '--ip', `${EXT}/24`]);
  const info = labInfo(lab);
  const strip = (n: { name: string; ns: string; ip: string }) => ({ ...n, ip: n.ip.split('/')[0] ?? '' });
  node1 = strip(info.nodes.find((n) => n.name === 'node1') ?? { name: '', ns: '', ip: '' });
  node2 = strip(info.nodes.find((n) => n.name === 'node2') ?? { name: '', ns: '', ip: '' });
  const find = (name: string): Pod => {
    const p = info.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  };
  web = find('web');
  cli = find('cli');
  ext = lab.ns('x-ext');
  // The client reaches node1's pods through node1 (forwarded traffic crossing node1's eth0).
  await lab.exec(ext, ['ip', 'route', 'add', '10.65.0.0/16', 'via', node1.ip]);
  procs.listen(node1.ns, [22, 8080, 9090]);
  procs.listen(web.ns, [8080]);
  procs.listen(ext, [5000]);
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
});

describe('HostEndpoint enforcement on node1 eth0', () => {
  it('no HEP: everything open, no INPUT/OUTPUT hooks of ours', async () => {
    const bad = await verdicts([toHost(22, true), toHost(179, true), toHost(8080, true), toHost(9090, true), pingHost(true), fromHost(true), ...podProbes()], 30_000);
    expect(bad).toEqual([]);
    expect(await hooks()).toEqual([]);
  });

  it('tortiectl create / get hostendpoints', async () => {
    expect(await ctl(lab, ['create', '-f', '-'], HEP('eth0'))).toMatch(/created 1|Successfully created 1/i);
    const table = await ctl(lab, ['get', 'hostendpoints', '-o', 'wide']);
    expect(table).toMatch(/node1-eth0\s+node1\s+eth0\s+10\.0\.0\.11/);
    expect(await ctl(lab, ['get', 'hep', 'node1-eth0', '-o', 'yaml'])).toMatch(/interfaceName: eth0/);
  });

  it('a HEP with no policy: only failsafe ports answer (ssh 22, BGP 179); new outbound cut but etcd (failsafe 2379) still works; pods untouched', async () => {
    const bad = await verdicts([toHost(22, true), toHost(179, true), toHost(8080, false), toHost(9090, false), pingHost(false), fromHost(false), ...podProbes()], 30_000);
    expect(bad).toEqual([]);
    // Calico's chain names and hooks at the top of INPUT / OUTPUT.
    const chains = await ourChains(node1.ns);
    for (const c of ['cali-INPUT', 'cali-OUTPUT', 'cali-from-host-endpoint', 'cali-to-host-endpoint', 'cali-fh-eth0', 'cali-th-eth0', 'cali-fhfw-eth0', 'cali-thfw-eth0', 'cali-failsafe-in', 'cali-failsafe-out']) expect(chains.has(c), c).toBe(true);
    expect(chains.get('cali-failsafe-in')).toMatch(/--dport 179 .*-j ACCEPT/);
    expect(await hooks()).toEqual([expect.stringMatching(/^-A INPUT .*-j cali-INPUT$/), expect.stringMatching(/^-A OUTPUT .*-j cali-OUTPUT$/)]);
    // node1 → etcd (tortiectl runs in node1's namespace) is a failsafe outbound port.
    expect(await ctl(lab, ['get', 'hostendpoints'])).toMatch(/node1-eth0/);
    // node2 has no HEP: no hooks there.
    const n2 = (await run('ip', ['netns', 'exec', node2.ns, 'iptables-save', '-t', 'filter'])).stdout;
    expect(n2).not.toMatch(/cali-INPUT/);
  });

  it('a GlobalNetworkPolicy selecting the HEP labels opens tcp 8080 and nothing else', async () => {
    await ctl(lab, ['apply', '-f', '-'], ALLOW_8080);
    const bad = await verdicts([toHost(8080, true), toHost(9090, false), toHost(22, true), pingHost(false), fromHost(false), ...podProbes()], 30_000);
    expect(bad).toEqual([]);
    // policy trace agrees with the packets, from the datastore alone.
    const trace = (port: number): Promise<string> => ctl(lab, ['policy', 'trace', '--from', EXT, '--to', node1.ip, '--port', String(port)]);
    expect(await trace(8080)).toMatch(/^ALLOW: .*\n.*ingress at hostendpoint\/node1-eth0: ALLOW by policy allow-8080 rule 0/);
    expect(await trace(9090)).toMatch(/^DENY: .*\n.*ingress at hostendpoint\/node1-eth0: DENY by default/);
    expect(await trace(22)).toMatch(/ALLOW by failsafe port tcp:22/);
  });

  it("FelixConfiguration node.node1's failsafeInboundHostPorts replaces the defaults (22 closes, 179 stays); deleting it restores them", async () => {
    await ctl(lab, ['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: node.node1\nspec:\n  failsafeInboundHostPorts:\n  - protocol: TCP\n    port: 179\n');
    expect(await verdicts([toHost(22, false), toHost(179, true), toHost(8080, true)], 30_000)).toEqual([]);
    await ctl(lab, ['delete', 'felixconfiguration', 'node.node1']);
    expect(await verdicts([toHost(22, true), toHost(179, true)], 30_000)).toEqual([]);
  });

  it('applyOnForward policy reaches forwarded traffic through the HEP (ext → pod 8080 denied), other pod traffic stays open', async () => {
    await ctl(lab, ['apply', '-f', '-'], FWD_DENY_EXT);
    const bad = await verdicts([...podProbes(false), toHost(22, true)], 30_000);
    expect(bad).toEqual([]);
    expect((await ourChains(node1.ns)).get('cali-fhfw-eth0')).toMatch(/cali-pi-fwd-deny-ext/);
    await ctl(lab, ['delete', 'globalnetworkpolicy', 'fwd-deny-ext']);
    expect(await verdicts(podProbes(), 30_000)).toEqual([]);
  });

  it('deleting the HEP restores open access and removes the hooks', async () => {
    await ctl(lab, ['delete', 'hostendpoint', 'node1-eth0']);
    const bad = await verdicts([toHost(8080, true), toHost(9090, true), toHost(22, true), pingHost(true), fromHost(true), ...podProbes()], 30_000);
    expect(bad).toEqual([]);
    expect(await hooks()).toEqual([]);
    expect(await ctl(lab, ['get', 'hostendpoints'])).not.toMatch(/node1-eth0/);
  });

  it('a HEP with expectedIPs only is enforced on the interface holding that address', async () => {
    const byIp = `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node1-by-ip\n  labels:\n    role: k8s-node\nspec:\n  node: node1\n  expectedIPs: ["${node1.ip}"]\n`;
    await ctl(lab, ['apply', '-f', '-'], byIp);
    expect(await verdicts([toHost(8080, true), toHost(9090, false), toHost(22, true), pingHost(false), ...podProbes()], 30_000)).toEqual([]);
    expect((await ourChains(node1.ns)).get('cali-from-host-endpoint')).toMatch(/-i eth0 .*-g cali-fh-eth0/);
    await ctl(lab, ['delete', 'hostendpoint', 'node1-by-ip']);
    expect(await verdicts([toHost(9090, true), pingHost(true)], 30_000)).toEqual([]);
    expect(await hooks()).toEqual([]);
  });

  it('the "*" HEP covers all of node1\'s interfaces except loopback, with the same policy and failsafe ports', async () => {
    await ctl(lab, ['apply', '-f', '-'], HEP('*', 'node1-all'));
    const bad = await verdicts([toHost(8080, true), toHost(9090, false), toHost(22, true), pingHost(false), ...podProbes()], 30_000);
    expect(bad).toEqual([]);
    const chains = await ourChains(node1.ns);
    expect(chains.get('cali-from-host-endpoint')).toMatch(/-g cali-fh-any-interface-at-all/);
    // Loopback is not host endpoint traffic: node1's own health endpoint still answers.
    const js = "fetch('http://127.0.0.1:9099/liveness').then(r=>process.stdout.write(String(r.status)),()=>process.stdout.write('0'))";
    expect(await lab.exec(node1.ns, [process.execPath, '-e', js])).toBe('200');
    await ctl(lab, ['delete', 'hostendpoint', 'node1-all']);
    await ctl(lab, ['delete', 'globalnetworkpolicy', 'allow-8080']);
    expect(await verdicts([toHost(9090, true), pingHost(true)], 30_000)).toEqual([]);
    expect(await hooks()).toEqual([]);
  });
});
