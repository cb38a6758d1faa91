// The lab on the Kubernetes datastore, on real packets: `tortie-lab up --datastore kubernetes` runs
// kube-apiserver beside etcd, registers every host as a Kubernetes Node, and runs tortie-node,
// tortie-controllers and the CNI plugins against the API alone. One bring-up (3 hosts, BGP mesh)
// proves: every pod reaches every other; the seed's NetworkPolicies applied with
// `tortie-lab kubectl apply -f` are enforced (connections tried before and after) and
// `tortiectl policy trace` gives the same verdicts; `kubectl delete node` makes tortie-controllers
// release that node's block and addresses (`tortiectl ipam check` clean).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testLab } from './lab-helpers.js';
import { ctl, labInfo, ping, populate, Procs, tcp, verdicts, type Pod, type Probe } from './policy-helpers.js';

const lab = testLab('kdd');
const procs = new Procs();
const files = mkdtempSync(join(tmpdir(), 'tortie-kdd-yaml-'));
let pods: Pod[] = [];

interface KubeList<T> {
  items: T[];
}
interface KubeNode {
  metadata: { name: string; annotations?: Record<string, string> };
}
interface KubePod {
  metadata: { name: string; namespace: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIPs?: { ip: string }[] };
}

const kubectl = (args: string[]): Promise<string> => lab.lab(['kubectl', ...args]);
/** `tortie-lab kubectl apply -f FILE`, as a user applies a manifest. */
const applyYaml = async (name: string, yaml: string, namespace?: string): Promise<string> => {
  const file = join(files, `${name}.yaml`);
  writeFileSync(file, yaml);
  return kubectl(['apply', ...(namespace ? ['-n', namespace] : []), '-f', file]);
};

const pod = (namespace: string, name: string): Pod => {
  const p = pods.find((x) => x.namespace === namespace && x.name === name);
  if (!p) throw new Error(`no pod ${namespace}/${name}`);
  return p;
};
const conn = (from: string, to: string, port: number, want: boolean): Probe => {
  const [fn = '', fp = ''] = from.split('/');
  const [tn = '', tp = ''] = to.split('/');
  return { label: `${from} → ${to}:${port}`, want, probe: () => tcp(pod(fn, fp).ns, pod(tn, tp).ip, port) };
};
/** tortiectl's verdict for a TCP connection, through the Kubernetes datastore. */
const trace = async (from: string, to: string, port: number): Promise<string> =>
  (JSON.parse(await ctl(lab, ['policy', 'trace', '--from', from, '--to', to, '--port', String(port), '-o', 'json'])) as { verdict: string }).verdict;

// The seed's policies (seed 000), indented as kubectl needs them.
const DEFAULT_DENY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
`;
const TEST_NETWORK_POLICY = join(import.meta.dirname, '../fixtures/policy/seed-test-network-policy.yaml');

beforeAll(async () => {
  await lab.down();
  await lab.lab(['up', '--datastore', 'kubernetes', '--nodes', '3', '--pods-per-node', '1']);
  // The guestbook's pods in production and staging, the seed's test-network-policy pods in default.
  await populate(lab, { production: { env: 'production' }, staging: { env: 'staging' } }, [
    { name: 'redis', namespace: 'production', labels: { app: 'redis', role: 'master', tier: 'backend' }, node: 'node1' },
    { name: 'frontend', namespace: 'production', labels: { app: 'guestbook', tier: 'frontend' }, node: 'node2' },
    { name: 'redis', namespace: 'staging', labels: { app: 'redis', role: 'master', tier: 'backend' }, node: 'node2' },
    { name: 'frontend', namespace: 'staging', labels: { app: 'guestbook', tier: 'frontend' }, node: 'node3' },
    { name: 'db', namespace: 'default', labels: { role: 'db' }, node: 'node1' },
    { name: 'web', namespace: 'default', labels: { role: 'frontend' }, node: 'node3' },
    { name: 'other', namespace: 'default', labels: { role: 'other' }, node: 'node2' },
  ]);
  pods = labInfo(lab).pods;
  for (const p of pods) procs.listen(p.ns, [6379, 6380]);
  // The egress rule's target: a listener on a host of 10.0.0.0/24.
  procs.listen(lab.ns('node2'), [5978, 5979]);
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
  rmSync(files, { recursive: true, force: true });
});

describe('tortie-lab up --datastore kubernetes', () => {
  it('every host is a Kubernetes Node that tortie-node annotated, every pod a bound Pod with status.podIPs, and every pod reaches every other', async () => {
    const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as KubeList<KubeNode>;
    const info = labInfo(lab);
    expect(nodes.items.map((n) => [n.metadata.name, n.metadata.annotations?.['projectcalico.org/IPv4Address']]).sort()).toEqual(info.nodes.map((n) => [n.name, n.ip]));
    const kpods = JSON.parse(await kubectl(['get', 'pods', '-A', '-o', 'json'])) as KubeList<KubePod>;
    const seen = kpods.items.map((p) => ({ key: `${p.metadata.namespace}/${p.metadata.name}`, node: p.spec.nodeName, ip: p.status.podIPs?.[0]?.ip, phase: p.status.phase }));
    expect(seen.sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      pods.map((p) => ({ key: `${p.namespace}/${p.name}`, node: p.node, ip: p.ip, phase: 'Running' })).sort((a, b) => a.key.localeCompare(b.key)),
    );
    const out = await lab.lab(['ping']);
    expect(out).toContain(`${pods.length * (pods.length - 1)}/${pods.length * (pods.length - 1)} reachable`);
  });
});

describe("the seed's NetworkPolicies, applied with kubectl", () => {
  it('default-deny in production: staging → production refused, staging-internal still open; policy trace agrees', async () => {
    // Before: the namespaces' profiles allow everything.
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true), conn('production/frontend', 'production/redis', 6379, true)], 30_000)).toEqual([]);
    expect(await applyYaml('default-deny', DEFAULT_DENY, 'production')).toMatch(/networkpolicy.networking.k8s.io\/default-deny created/);
    const bad = await verdicts([
      conn('staging/frontend', 'production/redis', 6379, false),
      conn('production/frontend', 'production/redis', 6379, false),
      conn('production/frontend', 'staging/redis', 6379, false),
      conn('staging/frontend', 'staging/redis', 6379, true),
      { label: 'ping staging/frontend → production/redis', want: false, probe: () => ping(pod('staging', 'frontend').ns, pod('production', 'redis').ip) },
    ]);
    expect(bad).toEqual([]);
    expect(await trace('staging/frontend', 'production/redis', 6379)).toBe('deny');
    expect(await trace('production/frontend', 'staging/redis', 6379)).toBe('deny');
    expect(await trace('staging/frontend', 'staging/redis', 6379)).toBe('allow');
  });

  it('test-network-policy opens exactly what it says (podSelector, namespaceSelector, port 6379, egress 10.0.0.0/24:5978), and policy trace agrees', async () => {
    const node2 = labInfo(lab).nodes.find((n) => n.name === 'node2')?.ip.split('/')[0] ?? '';
    const db = pod('default', 'db');
    const before = [conn('default/other', 'default/db', 6379, true), conn('default/db', 'default/web', 6379, true)];
    expect(await verdicts(before)).toEqual([]);
    expect(await kubectl(['apply', '-f', TEST_NETWORK_POLICY])).toMatch(/test-network-policy created/);
    const bad = await verdicts([
      conn('default/web', 'default/db', 6379, true), // podSelector role=frontend
      conn('default/web', 'default/db', 6380, false), // only the port named
      conn('default/other', 'default/db', 6379, false), // role=other is not selected
      conn('staging/frontend', 'default/db', 6379, false), // no project=myproject on staging yet
      conn('default/db', 'default/web', 6379, false), // egress is enforced
      { label: `db → ${node2}:5978`, want: true, probe: () => tcp(db.ns, node2, 5978) }, // the egress rule
      { label: `db → ${node2}:5979`, want: false, probe: () => tcp(db.ns, node2, 5979) },
      conn('default/web', 'default/other', 6379, true), // pods it does not select are untouched
    ]);
    expect(bad).toEqual([]);
    expect(await trace('default/web', 'default/db', 6379)).toBe('allow');
    expect(await trace('default/web', 'default/db', 6380)).toBe('deny');
    expect(await trace('default/other', 'default/db', 6379)).toBe('deny');
    expect(await trace('staging/frontend', 'default/db', 6379)).toBe('deny');
    // namespaceSelector: labelling the Namespace with kubectl lets staging in, on 6379 only.
    await kubectl(['label', 'namespace', 'staging', 'project=myproject']);
    expect(await verdicts([conn('staging/frontend', 'default/db', 6379, true), conn('staging/frontend', 'default/db', 6380, false)])).toEqual([]);
    expect(await trace('staging/frontend', 'default/db', 6379)).toBe('allow');
  });

  it('kubectl delete networkpolicy opens production again', async () => {
    await kubectl(['delete', 'networkpolicy', 'default-deny', '-n', 'production']);
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true), conn('production/frontend', 'staging/redis', 6379, true)])).toEqual([]);
    expect(await trace('staging/frontend', 'production/redis', 6379)).toBe('allow');
  });
});

describe('kubectl delete node', () => {
  it("tortie-controllers releases the node's block and its pods' addresses; ipam check is clean and the rest still connect", async () => {
    const affinities = async (): Promise<string> => ctl(lab, ['get', 'blockaffinities']);
    expect(await affinities()).toMatch(/^node3-/m);
    const gone = pods.filter((p) => p.node === 'node3');
    expect(gone.length).toBeGreaterThan(0);
    // The host goes with its pods on it (no CNI DEL): its Pods removed as the pod GC does, then the Node.
    await lab.lab(['node', 'del', 'node3']);
    await eventually(async () => (/^node3-/m.test(await affinities()) ? undefined : true), 60_000);
    const left = labInfo(lab).pods;
    const check = await eventually(async () => {
      const out = await ctl(lab, ['ipam', 'check']);
      return out.includes(`and ${left.length} allocations`) ? out : undefined;
    }, 60_000);
    expect(check).toMatch(/Leaked allocations[^\n]*: 0/);
    expect(check).toMatch(/Blocks of deleted nodes: 0/);
    expect(check).toMatch(/Affinity problems: 0/);
    for (const p of gone) expect(await ctl(lab, ['ipam', 'show', '--ip', p.ip])).not.toMatch(/in use/i);
    pods = left;
    expect(await verdicts([conn('staging/redis', 'default/db', 6380, false), conn('production/redis', 'staging/redis', 6379, true)])).toEqual([]);
  });
});
