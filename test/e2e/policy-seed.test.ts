// The seed's network-policy scenario on real packets in a two-host lab running tortie-node:
// production and staging namespaces with the same pods; `default-deny` and `allow-all` applied to
// production as written (Kubernetes YAML pasted flat, `tortiectl apply -n production`, like
// `kubectl -n production apply`); the seed's `test-network-policy` (ipBlock with except,
// namespaceSelector, podSelector, port 6379, egress to 10.0.0.0/24 port 5978); GlobalNetworkPolicy
// order and Pass against namespaced policy; and changes that keep established connections and
// rewrite only the chains they affect. The lab is dual stack: every pod-to-pod connection is tried
// over IPv4 and over IPv6 (ip6tables, cali60 sets) and must get the same verdict in both.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyChainName } from '../../felix/policy/index.js';
import { testLab } from './lab-helpers.js';
import type { PodSpec } from '../../lab/topology.js';
import { changedChains, ctl, labInfo, ourChains, ping, populate, Procs, tcp, verdicts, type Pod, type Probe } from './policy-helpers.js';

const lab = testLab('pol');
const procs = new Procs();
let pods: Pod[] = [];
let hosts: { name: string; ns: string; ip: string }[] = [];
const EXT = '10.0.0.60';

const pod = (namespace: string, name: string): Pod => {
  const p = pods.find((x) => x.namespace === namespace && x.name === name);
  if (!p) throw new Error(`no pod ${namespace}/${name}`);
  return p;
};
/** The connection over IPv4 and over IPv6: policy selects pods, not families. */
const conn = (from: string, to: string, port: number, want: boolean): Probe[] => {
  const [fn = '', fp = ''] = from.split('/');
  const [tn = '', tp = ''] = to.split('/');
  const dst = pod(tn, tp);
  return [
    { label: `${from} → ${to}:${port} (IPv4)`, want, probe: () => tcp(pod(fn, fp).ns, dst.ip, port) },
    { label: `${from} → ${to}:${port} (IPv6)`, want, probe: () => tcp(pod(fn, fp).ns, dst.ip6 ?? 'no IPv6 address', port) },
  ];
};
const pings = (from: Pod, to: Pod, want: boolean): Probe[] =>
  [to.ip, to.ip6 ?? 'no IPv6 address'].map((ip) => ({ label: `ping ${from.namespace}/${from.name} → ${to.namespace}/${to.name} ${ip}`, want, probe: () => ping(from.ns, ip) }));

// The seed's policies as written there (lines under metadata/spec unindented).
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
const ALLOW_ALL = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
name: allow-all
spec:
podSelector: {}
ingress:
- {}
egress:
- {}
`;
// The seed's test-network-policy (seed 000) with its indentation restored (flat it has duplicate
// keys); the same fixture datastore/model/k8s.test.ts converts.
const TEST_NETWORK_POLICY = readFileSync(join(import.meta.dirname, '../fixtures/policy/seed-test-network-policy.yaml'), 'utf8');

beforeAll(async () => {
  await lab.down();
  await lab.lab(['up', '--dual-stack', '--nodes', '2', '--pods-per-node', '0']);
  // The guestbook's pods, the same in both namespaces, spread over the two hosts; the seed's
  // test-network-policy pods in default.
  const gb = (ns: string, n1: string, n2: string): PodSpec[] => [
    { name: 'redis', namespace: ns, labels: { app: 'redis', role: 'master', tier: 'backend' }, node: n1 },
    { name: 'frontend', namespace: ns, labels: { app: 'guestbook', tier: 'frontend' }, node: n2 },
  ];
  await populate(lab, { production: { env: 'production' }, staging: { env: 'staging' } }, [
    ...gb('production', 'node1', 'node2'),
    ...gb('staging', 'node2', 'node1'),
    { name: 'db', namespace: 'default', labels: { role: 'db' }, node: 'node1' },
    { name: 'web', namespace: 'default', labels: { role: 'frontend' }, node: 'node2' },
    { name: 'other', namespace: 'default', labels: { role: 'other' }, node: 'node2' },
  ]);
  // A machine outside the cluster on the fabric, with sources inside and outside the ipBlock.
  await lab.lab(['attach', 'ext', '--ip', `${EXT}/24`]);
  const info = labInfo(lab);
  pods = info.pods;
  hosts = info.nodes;
  const ext = lab.ns('x-ext');
  for (const a of ['172.17.0.5', '172.17.1.5', '172.18.0.5']) await lab.exec(ext, ['ip', 'addr', 'add', `${a}/32`, 'dev', 'eth0']);
  const db = pod('default', 'db');
  const dbHost = hosts.find((h) => h.name === db.node);
  await lab.exec(ext, ['ip', 'route', 'add', '10.65.0.0/16', 'via', (dbHost?.ip ?? '').split('/')[0] ?? '']);
  await lab.exec(dbHost?.ns ?? '', ['ip', 'route', 'add', '172.16.0.0/12', 'via', EXT]);
  for (const p of pods) procs.listen(p.ns, [6379, 6380], { ipv6: true });
  procs.listen(ext, [5978, 5979]);
  // Everything open before any policy: the profiles allow.
  expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true), conn('production/frontend', 'staging/redis', 6379, true)], 30_000)).toEqual([]);
}, 420_000);

afterAll(async () => {
  procs.stopAll();
  await lab.down();
});

describe('seed: production / staging isolation', () => {
  it('default-deny in production: staging → production refused, staging-internal still works, production egress denied', async () => {
    expect(await ctl(lab, ['apply', '-n', 'production', '-f', '-'], DEFAULT_DENY)).toMatch(/applied 1/);
    const bad = await verdicts([
      conn('staging/frontend', 'production/redis', 6379, false),
      conn('staging/frontend', 'staging/redis', 6379, true),
      conn('staging/redis', 'staging/frontend', 6380, true),
      conn('production/frontend', 'production/redis', 6379, false),
      conn('production/frontend', 'staging/redis', 6379, false),
      conn('default/web', 'production/frontend', 6379, false),
      pings(pod('staging', 'frontend'), pod('production', 'redis'), false),
      pings(pod('staging', 'frontend'), pod('staging', 'redis'), true),
    ]);
    expect(bad).toEqual([]);
  });

  it('allow-all next to default-deny opens production again (policies add up), and deleting it closes it', async () => {
    await ctl(lab, ['apply', '-n', 'production', '-f', '-'], ALLOW_ALL);
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true), conn('production/frontend', 'production/redis', 6380, true), conn('production/frontend', 'staging/redis', 6379, true)])).toEqual([]);
    await ctl(lab, ['delete', 'networkpolicy', 'knp.default.allow-all', '-n', 'production']);
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, false), conn('production/frontend', 'staging/redis', 6379, false)])).toEqual([]);
  });

  it('test-network-policy opens exactly what it says: podSelector, namespaceSelector, ipBlock except, port 6379, egress 10.0.0.0/24:5978', async () => {
    await ctl(lab, ['apply', '-f', '-'], TEST_NETWORK_POLICY);
    const ext = lab.ns('x-ext');
    const db = pod('default', 'db');
    const fromExt = (src: string, want: boolean): Probe => ({ label: `ext ${src} → db:6379`, want, probe: () => tcp(ext, db.ip, 6379, src) });
    const bad = await verdicts([
      conn('default/web', 'default/db', 6379, true), // podSelector role=frontend
      conn('default/web', 'default/db', 6380, false), // only the port named
      conn('default/other', 'default/db', 6379, false), // role=other is not selected
      conn('staging/frontend', 'default/db', 6379, false), // a namespace without project=myproject
      fromExt('172.17.0.5', true), // ipBlock
      fromExt('172.17.1.5', false), // its except
      fromExt('172.18.0.5', false), // outside the block
      { label: `db → ext ${EXT}:5978`, want: true, probe: () => tcp(db.ns, EXT, 5978) }, // egress rule
      { label: `db → ext ${EXT}:5979`, want: false, probe: () => tcp(db.ns, EXT, 5979) },
      conn('default/db', 'default/web', 6379, false), // egress is enforced
      conn('default/web', 'default/other', 6379, true), // pods the policy does not select are untouched
    ]);
    expect(bad).toEqual([]);
    // namespaceSelector: staging labelled project=myproject (its Profile's labels) is let in, on 6379 only.
    await lab.lab(['ns', 'add', 'staging', '--labels', 'env=staging,project=myproject']);
    expect(await verdicts([conn('staging/frontend', 'default/db', 6379, true), conn('staging/frontend', 'default/db', 6380, false)])).toEqual([]);
  });

  it('GlobalNetworkPolicy order and Pass against the namespaced default-deny', async () => {
    const sel = "projectcalico.org/namespace == 'production'";
    const fromStaging = { namespaceSelector: "projectcalico.org/name == 'staging'" };
    const gnp = (name: string, order: number, rule: Record<string, unknown>): string =>
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { order, selector: sel, types: ['Ingress'], ingress: [rule] } });
    // Pass (order 10) skips the rest of the policies, default-deny included: the profile allows.
    await ctl(lab, ['apply', '-f', '-'], gnp('pass-staging', 10, { action: 'Pass', source: fromStaging }));
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true), conn('staging/frontend', 'production/redis', 6380, true), conn('production/frontend', 'production/redis', 6379, false)])).toEqual([]);
    // A Deny for 6379 ordered before the Pass wins for that port only.
    await ctl(lab, ['apply', '-f', '-'], gnp('deny-6379', 5, { action: 'Deny', protocol: 'TCP', source: fromStaging, destination: { ports: [6379] } }));
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, false), conn('staging/frontend', 'production/redis', 6380, true)])).toEqual([]);
    // Ordered after the Pass it is never reached.
    await ctl(lab, ['apply', '-f', '-'], gnp('deny-6379', 20, { action: 'Deny', protocol: 'TCP', source: fromStaging, destination: { ports: [6379] } }));
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, true)])).toEqual([]);
    await ctl(lab, ['delete', 'globalnetworkpolicy', 'pass-staging']);
    await ctl(lab, ['delete', 'globalnetworkpolicy', 'deny-6379']);
    expect(await verdicts([conn('staging/frontend', 'production/redis', 6379, false)])).toEqual([]);
  });

  it('policy and label changes keep established connections and rewrite only the chains they affect', async () => {
    const redis = pod('production', 'redis');
    const fe = pod('staging', 'frontend');
    const np = (port: number): string =>
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-staging', namespace: 'production' },
        spec: { order: 100, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: "env == 'staging'" }, destination: { ports: [port] } }] },
      });
    await ctl(lab, ['apply', '-f', '-'], np(7000));
    const server = procs.start(redis.ns, ['nc', '-lk', '7000']);
    let received = '';
    server.stdout?.on('data', (d: Buffer) => (received += d.toString()));
    expect(await verdicts([{ label: 'staging/frontend → production/redis:7000', want: true, probe: () => tcp(fe.ns, redis.ip, 7000) }])).toEqual([]);
    const client = procs.start(fe.ns, ['nc', redis.ip, '7000']);
    const say = async (line: string): Promise<void> => {
      client.stdin?.write(`${line}\n`);
      const deadline = Date.now() + 5000;
      while (!received.includes(line) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(received).toContain(line);
    };
    await say('hello-1');

    // A rule change: only that policy's chain is rewritten, on both hosts (each has a production pod), in both families.
    const snapshot = (): Promise<Array<Map<string, string>>> => Promise.all(hosts.flatMap((h) => [ourChains(h.ns, 4), ourChains(h.ns, 6)]));
    const before = await snapshot();
    await ctl(lab, ['apply', '-f', '-'], np(6380));
    expect(await verdicts([{ label: 'new connection to :7000', want: false, probe: () => tcp(fe.ns, redis.ip, 7000) }, { label: 'new connection to :6380', want: true, probe: () => tcp(fe.ns, redis.ip, 6380) }])).toEqual([]);
    await say('hello-2');
    const after = await snapshot();
    const pi = policyChainName({ name: 'allow-staging', namespace: 'production' }, 'ingress');
    for (let i = 0; i < before.length; i++) expect(changedChains(before[i] as Map<string, string>, after[i] as Map<string, string>)).toEqual([pi]);

    // A namespace label change: set membership only, no chain rewritten anywhere.
    await lab.lab(['ns', 'add', 'staging', '--labels', 'env=staging-old']);
    expect(await verdicts([{ label: 'new connection to :6380 after relabel', want: false, probe: () => tcp(fe.ns, redis.ip, 6380) }])).toEqual([]);
    await say('hello-3');
    const relabelled = await snapshot();
    for (let i = 0; i < before.length; i++) expect(changedChains(after[i] as Map<string, string>, relabelled[i] as Map<string, string>)).toEqual([]);

    // A pod label change: role=other becomes role=frontend and reaches db; again no chain rewritten.
    const other = pod('default', 'other');
    await ctl(lab, ['label', 'workloadendpoint', `${other.node}-k8s-other-eth0`, 'role=frontend', '--overwrite', '-n', 'default']);
    expect(await verdicts([conn('default/other', 'default/db', 6379, true)])).toEqual([]);
    const podRelabelled = await snapshot();
    for (let i = 0; i < before.length; i++) expect(changedChains(relabelled[i] as Map<string, string>, podRelabelled[i] as Map<string, string>)).toEqual([]);
    await say('hello-4');
  });
});
