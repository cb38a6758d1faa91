// tortie-controllers against a real kube-apiserver, with Calico's datastore (and IPAM) on the
// apiserver's own etcd: `kubectl delete node` releases that node's addresses, blocks, affinities,
// handles and Calico Node; an address no pod holds is released after the (short) grace period;
// the addresses of live pods, and of a pod whose CNI ADD has not recorded its address yet, stay;
// Node labels are copied to the Calico Node; NetworkPolicies, Namespaces and ServiceAccounts become
// knp.default.* / kns.* / ksa.* in etcd and follow changes and deletes; pod label changes reach
// the pod's WorkloadEndpoint.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdControllersIpam, manifestAccount, runControllers, type ControllersIpamFixture } from '../harness/controllers-ipam.js';
import { waitFor } from '../harness/daemon.js';
import { startKubeApiserver, type KubeApiserver } from '../harness/kube.js';
import { freePort } from '../harness/ports.js';

const NODES = ['ct-node-a', 'ct-node-b'];
describe('tortie-controllers (real kube-apiserver, Calico datastore on etcd)', () => {
  let kube: KubeApiserver;
  let ipam: ControllersIpamFixture;
  let ctl: ReturnType<typeof runControllers> | undefined;
  let healthPort = 0;
  let metricsPort = 0;
  let accountKubeconfig = '';
  const ips: Record<string, string> = {};

  const pod = async (name: string, node: string, ip?: string): Promise<void> => {
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: node, containers: [{ name: 'c', image: 'pause' }] } };
    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    if (ip) await kube.kubectl(['patch', 'pod', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: ip, podIPs: [{ ip }] } })]);
  };

  beforeAll(async () => {
    kube = await startKubeApiserver();
    ipam = etcdControllersIpam(kube.etcd.endpoint);
    await ipam.addPool('ct-pool', '10.77.0.0/16', 26);
    for (const n of NODES) {
      await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } }) });
      await ipam.addCalicoNode(n);
    }
    ips.a1 = await ipam.assignPodIp('ct-node-a', 'default', 'a1');
    ips.b1 = await ipam.assignPodIp('ct-node-b', 'default', 'b1');
    ips.b2 = await ipam.assignPodIp('ct-node-b', 'default', 'b2');
    ips.ghost = await ipam.assignPodIp('ct-node-a', 'default', 'ghost');
    ips.adding = await ipam.assignPodIp('ct-node-a', 'default', 'adding');
    await pod('a1', 'ct-node-a', ips.a1);
    await pod('b1', 'ct-node-b', ips.b1);
    await pod('b2', 'ct-node-b', ips.b2);
    await pod('adding', 'ct-node-a');
    [healthPort, metricsPort] = [await freePort(), await freePort()];
    accountKubeconfig = await manifestAccount(kube, 'tortie-etcd.yaml');
  }, 600_000);

  afterAll(async () => {
    if (ctl && ctl.child.exitCode === null) {
      ctl.child.kill('SIGTERM');
      await ctl.exited;
    }
    await ipam?.close();
    await kube?.stop();
  }, 60_000);

  it('refuses an unknown controller name with a clear message and exit code 2', async () => {
    const bad = runControllers({ ...ipam.env, KUBECONFIG: kube.kubeconfig, ENABLED_CONTROLLERS: 'node,flannelmigrate' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('ENABLED_CONTROLLERS: unknown controller "flannelmigrate"');
  }, 60_000);

  it('exits 1 naming the apiserver when the Kubernetes API cannot be reached, before doing anything', async () => {
    const port = await freePort();
    const file = join(kube.dir, 'unreachable.kubeconfig');
    writeFileSync(file, readFileSync(kube.kubeconfig, 'utf8').replace(kube.server, `https://127.0.0.1:${port}`));
    const bad = runControllers({ ...ipam.env, KUBECONFIG: file, TORTIE_HEALTH_PORT: '0', PROMETHEUS_METRICS_PORT: '0' });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain(`cannot list Nodes from the Kubernetes API at https://127.0.0.1:${port}`);
    expect(await ipam.allocatedIps()).toContain(ips.ghost);
  }, 60_000);

  it('with only the manifest’s RBAC, becomes ready, then releases the address no pod holds after the grace period and keeps the others', async () => {
    ctl = runControllers({
      ...ipam.env,
      KUBECONFIG: accountKubeconfig,
      ENABLED_CONTROLLERS: 'node,policy,namespace,serviceaccount,workloadendpoint',
      LEAK_GRACE_PERIOD: '2s',
      TORTIE_HEALTH_HOST: '127.0.0.1',
      TORTIE_HEALTH_PORT: String(healthPort),
      PROMETHEUS_METRICS_PORT: String(metricsPort),
    });
    await waitFor(
      `readiness (log: ${ctl.output().slice(-500)})`,
      async () => ((await fetch(`http://127.0.0.1:${healthPort}/readiness`)).status === 200 ? true : undefined),
      120_000,
      250,
    );
    await waitFor('the leaked address released', async () => (!(await ipam.allocatedIps()).has(ips.ghost) ? true : undefined), 120_000, 250);
    const left = await ipam.allocatedIps();
    for (const k of ['a1', 'b1', 'b2', 'adding']) expect(left.has(ips[k]), `${k} keeps ${ips[k]}`).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/tortie_controllers_ipam_released_total\{reason="leaked"\} 1/);
  }, 300_000);

  it('`kubectl delete node` releases that node’s addresses, blocks, affinities, handles and Calico Node', async () => {
    expect((await ipam.hostsInIpam()).has('ct-node-b')).toBe(true);
    const handlesBefore = (await ipam.handles()).size;
    await kube.kubectl(['delete', 'node', 'ct-node-b']);
    await waitFor(
      'ct-node-b gone from IPAM',
      async () => (!(await ipam.hostsInIpam()).has('ct-node-b') && !(await ipam.hasCalicoNode('ct-node-b')) ? true : undefined),
      120_000,
      250,
    );
    const left = await ipam.allocatedIps();
    expect(left.has(ips.b1)).toBe(false);
    expect(left.has(ips.b2)).toBe(false);
    expect(left.has(ips.a1)).toBe(true);
    expect(await ipam.hasCalicoNode('ct-node-a')).toBe(true);
    expect((await ipam.hostsInIpam()).has('ct-node-a')).toBe(true);
    expect((await ipam.handles()).size).toBe(handlesBefore - 2);
    expect(await ipam.problems()).toEqual({ duplicates: 0, handleMismatches: 0 });
  }, 300_000);

  it('copies a Kubernetes Node’s labels onto its Calico Node, and removes them when removed there', async () => {
    await kube.kubectl(['label', 'node', 'ct-node-a', 'topology.kubernetes.io/zone=z1']);
    await waitFor('label copied', async () => ((await ipam.calicoNodeLabels('ct-node-a'))?.['topology.kubernetes.io/zone'] === 'z1' ? true : undefined), 60_000, 250);
    await kube.kubectl(['label', 'node', 'ct-node-a', 'topology.kubernetes.io/zone-']);
    await waitFor('label removed', async () => ((await ipam.calicoNodeLabels('ct-node-a'))?.['topology.kubernetes.io/zone'] === undefined ? true : undefined), 60_000, 250);
  }, 120_000);

  it('keeps knp.default.*, kns.* and ksa.* in etcd in step with the Kubernetes API', async () => {
    await kube.kubectl(['create', 'namespace', 'ct-web']);
    await kube.kubectl(['create', 'serviceaccount', 'ct-sa', '-n', 'ct-web']);
    const np = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'ct-deny', namespace: 'ct-web' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] },
    };
    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(np) });
    const policy = await waitFor('knp.default.ct-deny in etcd', () => ipam.calicoSpec('networkpolicies', 'knp.default.ct-deny', 'ct-web'), 60_000, 250);
    expect(policy).toMatchObject({ order: 1000, selector: expect.stringContaining("app == 'web'"), types: ['Ingress'] });
    await waitFor('kns.ct-web in etcd', () => ipam.calicoSpec('profiles', 'kns.ct-web'), 60_000, 250);
    const sa = await waitFor('ksa.ct-web.ct-sa in etcd', () => ipam.calicoSpec('profiles', 'ksa.ct-web.ct-sa'), 60_000, 250);
    expect(sa).toMatchObject({ labelsToApply: { 'pcsa.projectcalico.org/name': 'ct-sa' } });

    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ ...np, spec: { ...np.spec, policyTypes: ['Ingress', 'Egress'] } }) });
    await waitFor('the change followed', async () => ((await ipam.calicoSpec('networkpolicies', 'knp.default.ct-deny', 'ct-web'))?.types as string[] | undefined)?.includes('Egress') || undefined, 60_000, 250);
    await kube.kubectl(['delete', 'networkpolicy', 'ct-deny', '-n', 'ct-web']);
    await waitFor('knp.default.ct-deny gone', async () => ((await ipam.calicoSpec('networkpolicies', 'knp.default.ct-deny', 'ct-web')) === undefined ? true : undefined), 60_000, 250);
  }, 120_000);

  it('copies a pod’s label change onto its existing WorkloadEndpoint, keeping Calico’s labels', async () => {
    const name = await ipam.addWep('ct-node-a', 'default', 'a1', ips.a1, { app: 'shop' });
    await kube.kubectl(['label', 'pod', 'a1', 'app=shop', 'tier=front']);
    const labels = await waitFor('the endpoint relabelled', async () => ((await ipam.wepLabels(name, 'default'))?.tier === 'front' ? ipam.wepLabels(name, 'default') : undefined), 60_000, 250);
    expect(labels).toEqual({ app: 'shop', tier: 'front', 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s' });
  }, 120_000);

  it('stops cleanly on SIGTERM', async () => {
    ctl?.child.kill('SIGTERM');
    expect(await ctl?.exited).toBe(0);
  }, 60_000);
});
