// `tortiectl policy trace` through the built CLI against a real etcd: the seed's namespaces,
// Kubernetes NetworkPolicies and pods' WorkloadEndpoints applied with `tortiectl apply`, then
// traced. Verdicts exit 0 and name the deciding policy and rule; bad input exits 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { ctl, ensureBuilt } from './ctl-helpers.js';

let etcd: EtcdServer;
let env: Record<string, string>;

const ns = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const wep = (namespace: string, pod: string, ip: string, labels: Record<string, string>, iface: string) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `node--a-k8s-${pod}-eth0`, namespace, labels: { ...labels, 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' } },
  spec: { orchestrator: 'k8s', node: 'node-a', pod, endpoint: 'eth0', interfaceName: iface, ipNetworks: [ip], profiles: [`kns.${namespace}`] },
});

const docs = [
  ns('production', { env: 'production' }),
  ns('staging', { env: 'staging', project: 'myproject' }),
  wep('production', 'db', '10.65.0.2/32', { role: 'db' }, 'cali00000000001'),
  wep('production', 'fe', '10.65.0.3/32', { role: 'frontend' }, 'cali00000000002'),
  wep('staging', 'fe', '10.65.1.3/32', { role: 'frontend' }, 'cali00000000003'),
  wep('staging', 'db', '10.65.1.2/32', { role: 'db' }, 'cali00000000004'),
];

const defaultDeny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'production' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
const allowFe = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'fe-to-db', namespace: 'production' },
  spec: { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }] },
};

async function apply(objs: unknown[]): Promise<void> {
  const r = await ctl(['apply', '-f', '-'], { env, input: objs.map((o) => JSON.stringify(o)).join('\n---\n') });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

beforeAll(async () => {
  await ensureBuilt();
  etcd = await startEtcd();
  env = { ETCD_ENDPOINTS: etcd.endpoint, DATASTORE_TYPE: 'etcdv3' };
  await apply(docs);
});

afterAll(async () => {
  await etcd?.stop();
});

describe('tortiectl policy trace against etcd', () => {
  it('no policy: the namespace profile allows', async () => {
    const r = await ctl(['policy', 'trace', '--from', 'staging/fe', '--to', 'production/db', '--port', '6379'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ALLOW: staging\/fe \(10\.65\.1\.3\) → production\/db \(10\.65\.0\.2\), tcp port 6379\n/);
    expect(r.stdout).toContain('Decided by: profile kns.production, rule 0 (ingress at production/db, chain cali-pri-kns.production)');
  });

  it("after applying the seed's default-deny, staging → production is denied and staging-internal allowed", async () => {
    await apply([defaultDeny]);
    const denied = await ctl(['policy', 'trace', '--from', 'staging/fe', '--to', 'production/db', '--port', '6379'], { env });
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain('ingress at production/db: DENY by default — 1 policy applies (production/knp.default.default-deny) and no rule allowed');
    const internal = await ctl(['policy', 'trace', '-n', 'staging', '--from', 'fe', '--to', 'db', '--port', '80'], { env });
    expect(internal.stdout).toMatch(/^ALLOW: staging\/fe/);
  });

  it('an allow by podSelector is reported with its policy and rule', async () => {
    await apply([allowFe]);
    const r = await ctl(['policy', 'trace', '--from', '10.65.0.3', '--to', 'production/db', '--port', '6379'], { env });
    expect(r.stdout).toMatch(/^ALLOW: production\/fe \(10\.65\.0\.3\) → production\/db \(10\.65\.0\.2\), tcp port 6379\n/);
    expect(r.stdout).toContain('ingress at production/db: ALLOW by policy production/knp.default.fe-to-db rule 0 (Allow)');
    const other = await ctl(['policy', 'trace', '--from', 'production/fe', '--to', 'production/db', '--port', '22'], { env });
    expect(other.stdout).toMatch(/^DENY: /);
    const json = JSON.parse((await ctl(['policy', 'trace', '--from', 'production/fe', '--to', 'production/db', '--port', '6379', '-o', 'json'], { env })).stdout);
    expect(json).toMatchObject({ verdict: 'allow', decidedBy: { policy: 'production/knp.default.fe-to-db', ruleIndex: 0 } });
  });

  it('a pod the datastore does not hold exits 1 (a failure, not a usage error)', async () => {
    const r = await ctl(['policy', 'trace', '--from', 'staging/nope', '--to', 'production/db', '--port', '80'], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe('error: --from: no workload endpoint for pod staging/nope in the datastore\n');
  });

  it('bad input exits 2 with a clear message and no stack trace', async () => {
    for (const [args, message] of [
      [['--from', 'staging/fe', '--to', 'production/db'], /error: --port is required with --protocol tcp/],
      [['--from', 'staging/fe', '--to', 'production/db', '--port', 'http'], /error: --port: "http" is not a number from 1 to 65535/],
      [['--from', 'staging/fe', '--port', '80'], /required option '--to <pod\|ip>' not specified/],
    ] as const) {
      const r = await ctl(['policy', 'trace', ...args], { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
