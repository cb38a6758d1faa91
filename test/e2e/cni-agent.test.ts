// The tortie plugin with a tortie-node on the host: ADD and DEL go over the agent's CNI socket (the
// network config names no datastore, so nothing else could answer). When the datastore or the agent
// is unreachable, ADD returns the CNI error JSON naming the cause within timeout_seconds and leaves
// no interface, address or WorkloadEndpoint behind; once the cause is gone the same ADD succeeds.
// CNI 1.1 GC releases exactly the attachments missing from cni.dev/valid-attachments; STATUS
// follows the datastore.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import { waitFor, type NetnsDaemon } from '../harness/daemon.js';
import { NetnsSet } from '../harness/netns.js';
import { execPlugin, startCniAgent, startEtcdIn, writePluginWrappers, type PluginRun } from './cni-helpers.js';
import { hostVethName } from '../../cni/wep.js';

const NODE = 'node-agent';
const WEPS = '/calico/resources/v3/projectcalico.org/workloadendpoints/default/';

describe('CNI plugin through the tortie-node agent', () => {
  const nets = new NetnsSet('ca');
  let host = '';
  let etcd: EtcdServer | undefined;
  let agent: NetnsDaemon | undefined;
  let dir = '';
  let socket = '';
  let etcdctl: (args: string[]) => Promise<string> = () => Promise.reject(new Error('etcd not started'));

  // No etcd_endpoints: only the agent can serve these.
  const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cniVersion: '1.1.0',
    name: 'k8s-pod-network',
    type: 'tortie',
    nodename: NODE,
    agent_socket: socket,
    ipam: { type: 'calico-ipam' },
    ...extra,
  });

  function plugin(command: string, stdin: Record<string, unknown>, opts: { cid?: string; netns?: string; pod?: string } = {}): Promise<PluginRun> {
    return execPlugin(host, join(dir, 'tortie'), {
      CNI_COMMAND: command,
      CNI_CONTAINERID: opts.cid ?? '',
      CNI_NETNS: opts.netns ?? '',
      CNI_IFNAME: 'eth0',
      CNI_PATH: dir,
      CNI_ARGS: opts.pod ? `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${opts.pod};K8S_POD_INFRA_CONTAINER_ID=${opts.cid}` : '',
    }, stdin);
  }

  const keys = async (prefix: string): Promise<string[]> => (await etcdctl(['get', '--prefix', '--keys-only', prefix])).split('\n').filter(Boolean);
  const hostLinks = async (): Promise<string> => (await nets.exec(host, ['ip', '-o', 'link', 'show'])).stdout;

  async function startAgent(): Promise<void> {
    agent = await startCniAgent(host, socket, join(dir, 'agent.log'), { NODENAME: NODE, CALICO_IPV4POOL_CIDR: '10.246.0.0/16', FELIX_PROMETHEUSMETRICSPORT: '9091' });
  }

  async function addPod(i: number, extra: Record<string, unknown> = {}): Promise<{ cid: string; ns: string; run: PluginRun }> {
    const ns = await nets.add(`p${i}`);
    const cid = `c${process.pid}a${i}`;
    return { cid, ns, run: await plugin('ADD', conf(extra), { cid, netns: `/var/run/netns/${ns}`, pod: `pod-${i}` }) };
  }

  beforeAll(async () => {
    host = await nets.add('host');
    await nets.exec(host, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ({ etcd, etcdctl } = await startEtcdIn(nets, host));
    dir = mkdtempSync(join(tmpdir(), 'tortie-cni-agent-'));
    chmodSync(dir, 0o755);
    socket = join(dir, 'cni.sock');
    writePluginWrappers(dir, { tortie: 'tortie' });
    await startAgent();
  }, 180_000);

  afterAll(async () => {
    await agent?.kill('SIGTERM');
    await etcd?.stop();
    await nets.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ADD, CHECK and DEL are served by the agent', async () => {
    const { cid, ns, run } = await addPod(0);
    expect(run.code, run.raw).toBe(0);
    expect(run.out).toMatchObject({ cniVersion: '1.1.0', ips: [{ address: expect.stringMatching(/^10\.246\.\d+\.\d+\/32$/), interface: 1 }] });
    expect(await keys(WEPS)).toEqual([`${WEPS}node--agent-k8s-pod--0-eth0`]);
    const check = await plugin('CHECK', conf({ prevResult: run.out }), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-0' });
    expect(check.code, check.raw).toBe(0);
    const del = await plugin('DEL', conf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-0' });
    expect(del.code, del.raw).toBe(0);
    expect(await keys(WEPS)).toEqual([]);
    expect(await keys(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toEqual([]);
    expect(await hostLinks()).not.toContain(hostVethName('default', 'pod-0', cid));
  }, 60_000);

  it('the agent exports how long its CNI calls took, how its ADDs were assigned, and how long a new endpoint took to get its route', async () => {
    const js = "fetch('http://127.0.0.1:9091/metrics').then(async r=>process.stdout.write(await r.text()))";
    const text = await waitFor('the endpoint convergence sample', async () => {
      const t = (await nets.exec(host, [process.execPath, '-e', js])).stdout;
      return /^tortie_endpoint_route_programmed_seconds_count [1-9]/m.test(t) ? t : undefined;
    });
    expect(text).toMatch(/^tortie_cni_request_seconds_count\{op="assign",result="ok"\} [1-9]/m);
    expect(text).toMatch(/^tortie_cni_request_seconds_count\{op="putEndpoint",result="ok"\} [1-9]/m);
    // One pod at a time so far: each ADD had the block write to itself.
    expect(text).toMatch(/^tortie_cni_assigns_total\{how="alone"\} [1-9]/m);
  }, 60_000);

  it('datastore down: ADD fails within its timeout naming the datastore, leaves nothing, and succeeds once etcd is back', async () => {
    const ns = await nets.add('p1');
    const cid = `c${process.pid}a1`;
    await etcd!.kill();
    const started = Date.now();
    const r = await plugin('ADD', conf({ timeout_seconds: 3 }), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-1' });
    // The deadline, plus the reply's slack and process start on a busy machine.
    expect(Date.now() - started).toBeLessThan(3000 + 5000);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatchObject({ cniVersion: '1.1.0', code: 11 });
    expect(String(r.out?.msg)).toMatch(/127\.0\.0\.1:2379/);
    const status = await plugin('STATUS', conf({ timeout_seconds: 2 }));
    expect(status.out).toMatchObject({ code: 50 });
    expect(await hostLinks()).not.toContain(hostVethName('default', 'pod-1', cid));
    await etcd!.start();
    expect(await keys(WEPS)).toEqual([]);
    expect(await keys(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toEqual([]);
    const again = await plugin('ADD', conf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-1' });
    expect(again.code, again.raw).toBe(0);
    expect((await plugin('STATUS', conf())).code).toBe(0);
  }, 120_000);

  it('agent down and no datastore in the config: ADD names the socket, leaves nothing, and succeeds once the agent is back', async () => {
    await agent!.kill('SIGTERM');
    const ns = await nets.add('p2');
    const cid = `c${process.pid}a2`;
    const r = await plugin('ADD', conf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-2' });
    expect(r.out).toMatchObject({ code: 11 });
    expect(String(r.out?.msg)).toContain(`no tortie-node listens at ${socket}`);
    expect(await hostLinks()).not.toContain(hostVethName('default', 'pod-2', cid));
    expect(await keys(`${WEPS}node--agent-k8s-pod--2-eth0`)).toEqual([]);
    // With etcd_endpoints the plugin reaches the datastore itself meanwhile.
    const direct = await addPod(3, { etcd_endpoints: 'http://127.0.0.1:2379' });
    expect(direct.run.code, direct.run.raw).toBe(0);
    await startAgent();
    const again = await plugin('ADD', conf(), { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-2' });
    expect(again.code, again.raw).toBe(0);
  }, 180_000);

  it('GC releases the addresses and endpoints of attachments missing from cni.dev/valid-attachments, and only those', async () => {
    const kept = await addPod(4);
    const leaked = await addPod(5);
    expect([kept.run.code, leaked.run.code]).toEqual([0, 0]);
    const valid = (await keys('/calico/ipam/v2/handle/')).map((k) => k.split('k8s-pod-network.')[1]).filter((c) => c !== leaked.cid);
    const gc = await plugin('GC', conf({ 'cni.dev/valid-attachments': valid.map((containerID) => ({ containerID, ifname: 'eth0' })) }));
    expect(gc.code, gc.raw).toBe(0);
    const handles = await keys('/calico/ipam/v2/handle/');
    expect(handles).toContain(`/calico/ipam/v2/handle/k8s-pod-network.${kept.cid}`);
    expect(handles).not.toContain(`/calico/ipam/v2/handle/k8s-pod-network.${leaked.cid}`);
    expect(handles).toHaveLength(valid.length);
    const weps = await keys(WEPS);
    expect(weps).toContain(`${WEPS}node--agent-k8s-pod--4-eth0`);
    expect(weps).not.toContain(`${WEPS}node--agent-k8s-pod--5-eth0`);
  }, 60_000);

  it('a config without mtu gives the pod the MTU the agent wrote (its host has no eth*/en*: Calico\'s 1460); mtu in the config wins; a bad MTU file fails the ADD', async () => {
    const file = join(dir, 'mtu');
    expect(await waitFor('the MTU file', async () => (existsSync(file) ? readFileSync(file, 'utf8') : undefined))).toBe('1460');
    const mtuOf = async (ns: string): Promise<number> => (JSON.parse((await nets.exec(ns, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout) as { mtu: number }[])[0].mtu;
    const auto = await addPod(7, { mtu_file: file });
    expect(auto.run.code, auto.run.raw).toBe(0);
    expect(await mtuOf(auto.ns)).toBe(1460);
    const fixed = await addPod(8, { mtu_file: file, mtu: 1300 });
    expect(fixed.run.code, fixed.run.raw).toBe(0);
    expect(await mtuOf(fixed.ns)).toBe(1300);
    const bad = join(dir, 'bad-mtu');
    writeFileSync(bad, 'big');
    const broken = await addPod(9, { mtu_file: bad });
    expect(broken.run.code).toBe(1);
    expect(broken.run.out).toMatchObject({ code: 7, msg: `the MTU file ${bad} holds "big", not an MTU` });
    expect(await keys(`${WEPS}node--agent-k8s-pod--9-eth0`)).toEqual([]);
  }, 60_000);
});
