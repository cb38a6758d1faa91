// `tortiectl policy trace` core: what it prints for the seed's isolation scenario, and the clear
// usage errors (exit 2) for bad flags, unknown pods and malformed addresses.
import { describe, expect, it } from 'vitest';
import { resource } from '../../felix/policy/testing/fixtures.js';
import { CliError, UsageError } from '../errors.js';
import { policyTrace, type PolicyTraceOptions, type PolicyTraceResources } from './policy-trace.js';

const wep = (ns: string, pod: string, ip: string, labels: Record<string, string>, iface: string) =>
  resource({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: `node--a-k8s-${pod}-eth0`, namespace: ns, labels: { ...labels, 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s' } },
    spec: { orchestrator: 'k8s', node: 'node-a', pod, endpoint: 'eth0', interfaceName: iface, ipNetworks: [ip], profiles: [`kns.${ns}`] },
  });

const resources: PolicyTraceResources = {
  workloadEndpoints: [wep('production', 'db', '10.65.0.2/32', { role: 'db' }, 'cali00000000001'), wep('staging', 'fe', '10.65.1.3/32', { role: 'frontend' }, 'cali00000000002'), wep('staging', 'db', '10.65.1.2/32', { role: 'db' }, 'cali00000000003')],
  networkPolicies: [resource({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'production' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } })],
  globalNetworkPolicies: [resource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'allow-dns' }, spec: { order: 10, selector: "projectcalico.org/namespace == 'production'", egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }] } })],
  profiles: ['production', 'staging'].map((n) => resource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })),
};

async function run(opts: Partial<PolicyTraceOptions>): Promise<string> {
  let out = '';
  await policyTrace({ from: '', to: '', protocol: 'tcp', namespace: 'default', output: 'table', ...opts }, { load: async () => resources, write: (t) => (out += t) });
  return out;
}

describe('tortiectl policy trace', () => {
  it('denies staging → production under default-deny and says which policy applied', async () => {
    expect(await run({ from: 'staging/fe', to: 'production/db', port: '6379' })).toBe(
      [
        'DENY: staging/fe (10.65.1.3) → production/db (10.65.0.2), tcp port 6379',
        '  egress at staging/fe: ALLOW by profile kns.staging rule 0 (Allow) — no policy applies in this direction',
        '  ingress at production/db: DENY by default — 1 policy applies (production/knp.default.default-deny) and no rule allowed',
        'Decided by: default deny (ingress at production/db)',
        '',
      ].join('\n'),
    );
  });
  it('allows staging-internal traffic, pods given by name with -n', async () => {
    const out = await run({ from: 'fe', to: 'db', namespace: 'staging', port: '80' });
    expect(out).toMatch(/^ALLOW: staging\/fe \(10\.65\.1\.3\) → staging\/db \(10\.65\.1\.2\), tcp port 80\n/);
    expect(out).toContain('Decided by: profile kns.staging, rule 0 (ingress at staging/db, chain cali-pri-kns.staging)');
  });
  it('names the deciding policy and rule', async () => {
    const out = await run({ from: 'production/db', to: '10.96.0.10', protocol: 'udp', port: '53' });
    expect(out).toContain('egress at production/db: ALLOW by policy allow-dns rule 0 (Allow)');
    expect(out).toContain('Decided by: policy allow-dns, rule 0 (egress at production/db, chain cali-po-allow-dns)');
  });
  it('takes IPs, and an IP of a pod is that pod', async () => {
    expect(await run({ from: '10.65.1.3', to: '10.65.0.2', port: '6379' })).toMatch(/^DENY: staging\/fe \(10\.65\.1\.3\) → production\/db/);
    expect(await run({ from: '192.168.0.1', to: '192.168.0.2', port: '1' })).toContain('network policy does not apply');
  });
  it('icmp without a port; json output', async () => {
    expect(await run({ from: 'staging/fe', to: 'staging/db', protocol: 'icmp' })).toMatch(/^ALLOW: .*, icmp type 8 code 0\n/);
    const j = JSON.parse(await run({ from: 'staging/fe', to: 'production/db', port: '1', output: 'json' }));
    expect(j).toMatchObject({ verdict: 'deny', decidedBy: { reason: 'default-deny', direction: 'ingress' }, query: { protocol: 6, port: 1 } });
  });
  it('reports Pass, Log and a profile that does not allow', async () => {
    const extra: PolicyTraceResources = {
      ...resources,
      globalNetworkPolicies: [
        resource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'log-pass' }, spec: { order: 1, selector: "role == 'db'", ingress: [{ action: 'Log' }, { action: 'Pass', protocol: 'UDP' }] } }),
      ],
      profiles: [...resources.profiles, resource({ apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'kns.staging' }, spec: { ingress: [{ action: 'Deny', protocol: 'UDP' }, { action: 'Allow' }], egress: [{ action: 'Allow' }] } })].filter(
        (p, i, all) => all.findLastIndex((q) => q.metadata.name === p.metadata.name) === i,
      ),
    };
    let out = '';
    const go = (o: Partial<PolicyTraceOptions>) => policyTrace({ from: '', to: '', protocol: 'tcp', namespace: 'default', output: 'table', ...o }, { load: async () => extra, write: (t) => (out += t) });
    await go({ from: 'staging/fe', to: 'staging/db', protocol: 'udp', port: '53' });
    expect(out).toBe(
      [
        'DENY: staging/fe (10.65.1.3) → staging/db (10.65.1.2), udp port 53',
        '  egress at staging/fe: ALLOW by profile kns.staging rule 0 (Allow) — no policy applies in this direction',
        '  ingress at staging/db: DENY by profile kns.staging rule 0 (Deny) — policy log-pass rule 1 passed to the profiles',
        '    logged by policy log-pass rule 0',
        'Decided by: profile kns.staging, rule 0 (ingress at staging/db, chain cali-pri-kns.staging)',
        '',
      ].join('\n'),
    );
  });
  it.each([
    [{ from: 'staging/fe', to: 'production/db' }, /--port is required with --protocol tcp/],
    [{ from: 'staging/fe', to: 'production/db', port: '70000' }, /--port: "70000" is not a number from 1 to 65535/],
    [{ from: 'staging/fe', to: 'production/db', protocol: 'gre' }, /--protocol: "gre" is not a protocol/],
    [{ from: 'staging/fe', to: 'production/db', protocol: 'icmp', port: '80' }, /--port and --source-port only go with tcp/],
    [{ from: '10.1.2', to: 'production/db', port: '80' }, /--from: "10.1.2" is not a valid IP address/],
    [{ from: 'a/b/c', to: 'production/db', port: '80' }, /neither namespace\/name nor an IP address/],
    [{ from: 'staging/fe', to: 'production/db', port: '80', output: 'yaml' }, /unknown output format "yaml"/],
  ])('bad input %o is a usage error', async (opts, message) => {
    const p = run(opts);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(message);
  });
  it.each([
    [{ from: 'staging/nope', to: 'production/db', port: '80' }, /--from: no workload endpoint for pod staging\/nope/],
    [{ from: 'fe', to: 'production/db', port: '80' }, /--from: no workload endpoint for pod default\/fe in the datastore \(namespace default; use namespace\/name or -n\)/],
    [{ from: 'staging/fe', to: 'fd00::1', port: '80' }, /no address family in common/],
  ])('%o, well formed but not traceable with what the datastore holds, is a failure (exit 1)', async (opts, message) => {
    const p = run(opts);
    await expect(p).rejects.toBeInstanceOf(CliError);
    await expect(p).rejects.toThrow(message);
  });
  it('rejects bad flags before reading the datastore', async () => {
    let loads = 0;
    const deps = { load: async () => (loads++, resources), write: () => undefined };
    const base = { from: 'staging/fe', to: 'production/db', protocol: 'tcp', namespace: 'default', output: 'table' };
    await expect(policyTrace({ ...base, port: 'x' }, deps)).rejects.toThrow(/--port: "x"/);
    await expect(policyTrace({ ...base, from: '1.2.3', port: '1' }, deps)).rejects.toThrow(/not a valid IP address/);
    expect(loads).toBe(0);
  });
});

describe('tortiectl policy trace: host endpoints', () => {
  const hep = resource({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'node-a-eth0', labels: { role: 'k8s-node' } }, spec: { node: 'node-a', interfaceName: 'eth0', expectedIPs: ['10.0.0.11'] } });
  const open8080 = resource({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'allow-8080' }, spec: { selector: "role == 'k8s-node'", ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }] } });
  const noFailsafe = resource({ apiVersion: 'projectcalico.org/v3', kind: 'FelixConfiguration', metadata: { name: 'node.node-a' }, spec: { failsafeInboundHostPorts: [] } });
  const withHeps = (extra: Partial<PolicyTraceResources>): PolicyTraceResources => ({ ...resources, hostEndpoints: [hep], ...extra, globalNetworkPolicies: [...resources.globalNetworkPolicies, ...(extra.globalNetworkPolicies ?? [])] });
  async function trace(res: PolicyTraceResources, opts: Partial<PolicyTraceOptions>): Promise<string> {
    let out = '';
    await policyTrace({ from: '', to: '', protocol: 'tcp', namespace: 'default', output: 'table', ...opts }, { load: async () => res, write: (t) => (out += t) });
    return out;
  }

  it('traffic to a HEP address: failsafe ports first, default deny without policy, policy that selects its labels', async () => {
    expect(await trace(withHeps({}), { from: '192.168.1.5', to: '10.0.0.11', port: '22' })).toBe(
      ['ALLOW: 192.168.1.5 → hostendpoint/node-a-eth0 (10.0.0.11), tcp port 22', '  ingress at hostendpoint/node-a-eth0: ALLOW by failsafe port tcp:22 (before any policy)', 'Decided by: failsafe port (ingress at hostendpoint/node-a-eth0, chain cali-failsafe-in)', ''].join('\n'),
    );
    expect(await trace(withHeps({}), { from: '192.168.1.5', to: 'hostendpoint/node-a-eth0', port: '8080' })).toContain('ingress at hostendpoint/node-a-eth0: DENY — no policy applies; no profile rule allowed');
    const open = withHeps({ globalNetworkPolicies: [open8080] });
    expect(await trace(open, { from: '192.168.1.5', to: '10.0.0.11', port: '8080' })).toContain('Decided by: policy allow-8080, rule 0 (ingress at hostendpoint/node-a-eth0, chain cali-pi-allow-8080)');
    expect(await trace(open, { from: '192.168.1.5', to: '10.0.0.11', port: '9090' })).toMatch(/^DENY: .*\n.*DENY by default — 1 policy applies \(allow-8080\)/);
  });

  it("from a HEP: its egress (failsafe out: DNS), then the pod's ingress; node FelixConfiguration overrides failsafe", async () => {
    expect(await trace(withHeps({}), { from: '10.0.0.11', to: '10.96.0.10', protocol: 'udp', port: '53' })).toContain('egress at hostendpoint/node-a-eth0: ALLOW by failsafe port udp:53');
    expect(await trace(withHeps({}), { from: '10.0.0.11', to: 'staging/db', port: '80' })).toContain('egress at hostendpoint/node-a-eth0: DENY');
    expect(await trace(withHeps({ felixConfigurations: [noFailsafe] }), { from: '192.168.1.5', to: '10.0.0.11', port: '22' })).toMatch(/^DENY/);
  });
});
