// The CNI plugins with `kubernetes.kubeconfig` set, as in the seed's calico.conf: pod labels land on the
// WorkloadEndpoint, and the pod annotations cni.projectcalico.org/ipv4pools and ipAddrs choose the
// address. The API server is a tiny fake (plain HTTP on loopback inside the test's host namespace)
// that serves pods from a JSON file; the plugins (or the tortie-node serving them) reach it through
// the datastore's Kubernetes driver (cni/k8s.ts).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import { execPlugin, startCniAgent, startEtcdIn, writePluginWrappers, type PluginRun } from './cni-helpers.js';
import type { NetnsDaemon } from '../harness/daemon.js';
import { NetnsSet } from '../harness/netns.js';
import { hostVethName } from '../../cni/wep.js';

const NODE = 'node-k8s';

interface FakePod {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

// Serves GET /api/v1/namespaces/<ns>/pods/<name> from the pods file (re-read per request), 404 otherwise.
const FAKE_API = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const srv = createServer((req, res) => {
  const m = /^\\/api\\/v1\\/namespaces\\/([^/]+)\\/pods\\/([^/?]+)/.exec(req.url ?? '');
  const pods = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const p = m ? pods[m[1] + '/' + m[2]] : undefined;
  res.setHeader('content-type', 'application/json');
  if (!p) {
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "' + (m ? m[2] : '') + '" not found', reason: 'NotFound', code: 404 }));
    return;
  }
  res.end(JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { name: m[2], namespace: m[1], labels: p.labels ?? {}, annotations: p.annotations ?? {} }, spec: { containers: [] } }));
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`;

describe('CNI plugins with a kubeconfig (pod labels and Calico IPAM annotations)', () => {
  const nets = new NetnsSet('k');
  let host = '';
  let etcd: EtcdServer | undefined;
  let api: ChildProcess | undefined;
  let dir = '';
  let binDir = '';
  let podsFile = '';
  let kubeconfig = '';
  let agent: NetnsDaemon | undefined;

  const setPods = (pods: Record<string, FakePod>): void => writeFileSync(podsFile, JSON.stringify(pods));

  // The seed's calico.conf, placeholders filled in: cniVersion 0.1.0, type calico, calico-ipam,
  // log_level, kubernetes.kubeconfig; the endpoint is written without a port as the seed does.
  const calicoConf = (): Record<string, unknown> => ({
    name: 'k8s-pod-network',
    cniVersion: '0.1.0',
    type: 'calico',
    etcd_endpoints: 'http://127.0.0.1',
    log_level: 'info',
    nodename: NODE,
    ipam: { type: 'calico-ipam' },
    kubernetes: { kubeconfig },
  });

  function plugin(type: string, command: string, stdin: Record<string, unknown>, opts: { cid: string; netns?: string; pod: string }): Promise<PluginRun> {
    const env: Record<string, string> = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: opts.cid,
      CNI_NETNS: opts.netns ?? '',
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${opts.pod};K8S_POD_INFRA_CONTAINER_ID=${opts.cid}`,
    };
    return execPlugin(host, join(binDir, type), env, stdin);
  }

  const inHost = (argv: string[]): Promise<string> => nets.exec(host, argv).then((r) => r.stdout);
  let etcdctl: (args: string[]) => Promise<string> = () => Promise.reject(new Error('etcd not started'));
  const exists = async (key: string): Promise<boolean> => (await etcdctl(['get', '--keys-only', key])).trim() !== '';
  const put = (key: string, value: unknown): Promise<string> => etcdctl(['put', key, JSON.stringify(value)]);
  const pool = (name: string, cidr: string): Promise<string> =>
    put(`/calico/resources/v3/projectcalico.org/ippools/${name}`, { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, blockSize: 26 } });

  beforeAll(async () => {
    host = await nets.add('host');
    await inHost(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ({ etcd, etcdctl } = await startEtcdIn(nets, host));
    await pool('default-ipv4-ippool', '10.244.0.0/16');
    await pool('pool-b', '10.245.0.0/16');
    await put(`/calico/resources/v3/projectcalico.org/nodes/${NODE}`, { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: NODE }, spec: {} });

    dir = mkdtempSync(join(tmpdir(), 'tortie-cni-k8s-'));
    chmodSync(dir, 0o755);
    binDir = join(dir, 'bin');
    mkdirSync(binDir, { mode: 0o755 });
    // "calico" answers as tortie (the seed's type); "calico-ipam" is served by the plugin itself.
    writePluginWrappers(binDir, { calico: 'tortie' });
    podsFile = join(dir, 'pods.json');
    setPods({});
    const script = join(dir, 'fake-api.mjs');
    writeFileSync(script, FAKE_API);
    const proc = spawn('ip', ['netns', 'exec', host, process.execPath, script, podsFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    api = proc;
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.once('exit', (code) => reject(new Error(`fake API server exited (${code})`)));
    });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: http://127.0.0.1:${port}`,
        // client-node refuses plain HTTP unless told so; the fake serves no TLS.
        '    insecure-skip-tls-verify: true',
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: cni}',
        'current-context: fake',
        'users:',
        '- name: cni',
        '  user: {token: test-token}',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await agent?.kill('SIGTERM');
    if (api && api.exitCode === null) api.kill('SIGKILL');
    await etcd?.stop();
    await nets.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ADD with the seed calico.conf: labels from the pod on the WorkloadEndpoint, address from the ipv4pools annotation', async () => {
    setPods({ 'shop/web-1': { labels: { app: 'web', tier: 'front' }, annotations: { 'cni.projectcalico.org/ipv4pools': '["pool-b"]' } } });
    const ns = await nets.add('web');
    const cid = `k${process.pid}web`;
    const r = await plugin('calico', 'ADD', calicoConf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'web-1' });
    expect(r.code, r.raw).toBe(0);
    // cniVersion 0.1.0 asks for the legacy result shape.
    const ip4 = r.out?.ip4 as { ip: string } | undefined;
    expect(ip4?.ip).toMatch(/^10\.245\.\d+\.\d+\/32$/);
    const wep = JSON.parse(await etcdctl(['get', '--print-value-only', `/calico/resources/v3/projectcalico.org/workloadendpoints/shop/node--k8s-k8s-web--1-eth0`])) as {
      metadata: { labels: Record<string, string> };
      spec: { ipNetworks: string[]; interfaceName: string };
    };
    expect(wep.metadata.labels).toEqual({ app: 'web', tier: 'front', 'projectcalico.org/namespace': 'shop', 'projectcalico.org/orchestrator': 'k8s' });
    expect(wep.spec.ipNetworks).toEqual([ip4?.ip]);
    expect(wep.spec.interfaceName).toBe(hostVethName('shop', 'web-1', cid));

    const del = await plugin('calico', 'DEL', calicoConf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'web-1' });
    expect(del.code, del.raw).toBe(0);
    expect(await exists('/calico/resources/v3/projectcalico.org/workloadendpoints/shop/node--k8s-k8s-web--1-eth0')).toBe(false);
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toBe(false);
  });

  it('the ipAddrs annotation assigns exactly the requested address', async () => {
    setPods({ 'shop/fixed': { labels: { app: 'db' }, annotations: { 'cni.projectcalico.org/ipAddrs': '["10.244.7.7"]' } } });
    const ns = await nets.add('fix');
    const cid = `k${process.pid}fix`;
    const r = await plugin('calico', 'ADD', calicoConf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'fixed' });
    expect(r.code, r.raw).toBe(0);
    expect((r.out?.ip4 as { ip: string }).ip).toBe('10.244.7.7/32');
    expect((await nets.exec(ns, ['ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain('10.244.7.7/32');
    // The same address for a second pod is refused, and that ADD leaves nothing behind.
    setPods({ 'shop/fixed': { annotations: { 'cni.projectcalico.org/ipAddrs': '["10.244.7.7"]' } }, 'shop/clash': { annotations: { 'cni.projectcalico.org/ipAddrs': '["10.244.7.7"]' } } });
    const ns2 = await nets.add('cl');
    const clash = await plugin('calico', 'ADD', calicoConf(), { cid: `k${process.pid}cl`, netns: `/var/run/netns/${ns2}`, pod: 'clash' });
    expect(clash.code).not.toBe(0);
    expect(String(clash.out?.msg)).toContain('10.244.7.7');
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.k${process.pid}cl`)).toBe(false);
    await expect(inHost(['ip', 'link', 'show', hostVethName('shop', 'clash', `k${process.pid}cl`)])).rejects.toThrow();
    expect((await plugin('calico', 'DEL', calicoConf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'fixed' })).code).toBe(0);
  });

  it('with a tortie-node on the host, the agent reads the pod: its labels and the annotation-chosen pool', async () => {
    const socket = join(dir, 'cni.sock');
    agent = await startCniAgent(host, socket, join(dir, 'agent.log'), { NODENAME: NODE, NO_DEFAULT_POOLS: 'true' });
    setPods({ 'shop/api-1': { labels: { app: 'api' }, annotations: { 'cni.projectcalico.org/ipv4pools': '["pool-b"]' } } });
    const ns = await nets.add('api');
    const cid = `k${process.pid}api`;
    // A datastore nobody answers at: only the agent can serve this ADD.
    const conf = { ...calicoConf(), agent_socket: socket, etcd_endpoints: 'http://127.0.0.1:9' };
    const r = await plugin('calico', 'ADD', conf, { cid, netns: `/var/run/netns/${ns}`, pod: 'api-1' });
    expect(r.code, r.raw).toBe(0);
    expect((r.out?.ip4 as { ip: string }).ip).toMatch(/^10\.245\.\d+\.\d+\/32$/);
    const wep = JSON.parse(await etcdctl(['get', '--print-value-only', '/calico/resources/v3/projectcalico.org/workloadendpoints/shop/node--k8s-k8s-api--1-eth0'])) as { metadata: { labels: Record<string, string> } };
    expect(wep.metadata.labels).toMatchObject({ app: 'api' });
    expect((await plugin('calico', 'DEL', conf, { cid, netns: `/var/run/netns/${ns}`, pod: 'api-1' })).code).toBe(0);
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toBe(false);
    await agent.kill('SIGTERM');
  }, 180_000);

  it('a pod the API server does not know, or a malformed annotation, is the error JSON and leaks nothing', async () => {
    setPods({ 'shop/bad-ann': { annotations: { 'cni.projectcalico.org/ipv4pools': 'pool-b' } } });
    const ns = await nets.add('gone');
    const missing = await plugin('calico', 'ADD', calicoConf(), { cid: `k${process.pid}gone`, netns: `/var/run/netns/${ns}`, pod: 'ghost' });
    expect(missing.out).toMatchObject({ cniVersion: '0.1.0', code: 11 });
    expect(String(missing.out?.msg)).toContain(`kubernetes.kubeconfig ${kubeconfig}: cannot read pod shop/ghost`);
    const bad = await plugin('calico', 'ADD', calicoConf(), { cid: `k${process.pid}bad`, netns: `/var/run/netns/${ns}`, pod: 'bad-ann' });
    expect(bad.out).toMatchObject({ code: 7 });
    expect(String(bad.out?.msg)).toContain('pod annotation cni.projectcalico.org/ipv4pools must be a JSON list of strings, got pool-b');
    for (const r of [missing, bad]) expect(r.raw).not.toMatch(/\n\s+at /);
    expect(await etcdctl(['get', '--prefix', '--keys-only', '/calico/ipam/v2/handle/'])).toBe('');
    expect(await etcdctl(['get', '--prefix', '--keys-only', '/calico/resources/v3/projectcalico.org/workloadendpoints/'])).toBe('');
  });
});
