// The installed plugin, build/tortie from `make bundles` (a Node single executable): served by the
// host's tortie-node over the CNI socket, and — with no agent listening and a datastore in the
// config — through the full plugin it carries as an asset, since its main script holds no datastore
// client (install/cni-plugins.ts). Either way ADD plumbs the pod and DEL takes everything back.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import type { NetnsDaemon } from '../harness/daemon.js';
import { NetnsSet } from '../harness/netns.js';
import { execPlugin, startCniAgent, startEtcdIn, type PluginRun } from './cni-helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const EXE = join(ROOT, 'build/tortie');
const NODE = 'node-sea';
const WEPS = '/calico/resources/v3/projectcalico.org/workloadendpoints/default/';

describe('the single-executable CNI plugin', () => {
  const nets = new NetnsSet('cs');
  let host = '';
  let etcd: EtcdServer | undefined;
  let agent: NetnsDaemon | undefined;
  let dir = '';
  let etcdctl: (args: string[]) => Promise<string> = () => Promise.reject(new Error('etcd not started'));

  const conf = (extra: Record<string, unknown>): Record<string, unknown> => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'tortie',
    nodename: NODE,
    agent_socket: join(dir, 'cni.sock'),
    ipam: { type: 'calico-ipam' },
    ...extra,
  });
  const run = (command: string, i: number, ns: string, extra: Record<string, unknown> = {}): Promise<PluginRun> =>
    execPlugin(host, EXE, {
      CNI_COMMAND: command,
      CNI_CONTAINERID: `sea${i}`,
      CNI_NETNS: `/var/run/netns/${ns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: dir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${i};K8S_POD_INFRA_CONTAINER_ID=sea${i}`,
    }, conf(extra));
  const weps = async (): Promise<string[]> => (await etcdctl(['get', '--prefix', '--keys-only', WEPS])).split('\n').filter(Boolean);

  /** ADD then DEL of pod i; the address is on the pod's eth0 in between, and nothing is left after. */
  async function addAndDel(i: number, extra: Record<string, unknown> = {}): Promise<void> {
    const ns = await nets.add(`p${i}`);
    const add = await run('ADD', i, ns, extra);
    expect(add.code, add.raw).toBe(0);
    const ip = ((add.out?.ips as { address: string }[] | undefined) ?? [])[0]?.address.split('/')[0];
    expect(ip).toMatch(/^10\.247\./);
    expect((await nets.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(ip);
    expect(await weps()).toHaveLength(1);
    const del = await run('DEL', i, ns, extra);
    expect(del.code, del.raw).toBe(0);
    expect(await weps()).toEqual([]);
    expect((await nets.exec(ns, ['ip', '-o', 'link', 'show'])).stdout).not.toContain('eth0');
  }

  beforeAll(async () => {
    // `make test` bundles first; a lone run of this file builds them (about half a minute).
    if (!existsSync(EXE)) await promisify(execFile)('npx', ['tsx', 'images/bundle.ts'], { cwd: ROOT });
    host = await nets.add('host');
    await nets.exec(host, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ({ etcd, etcdctl } = await startEtcdIn(nets, host));
    dir = mkdtempSync(join(tmpdir(), 'tortie-cni-sea-'));
    chmodSync(dir, 0o755);
    // The agent makes the pool (and registers the node) the agent-less ADD below allocates from too.
    agent = await startCniAgent(host, join(dir, 'cni.sock'), join(dir, 'agent.log'), { NODENAME: NODE, CALICO_IPV4POOL_CIDR: '10.247.0.0/16' });
  }, 300_000);

  afterAll(async () => {
    await agent?.kill('SIGTERM');
    await etcd?.stop();
    await nets.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ADD and DEL through tortie-node on the CNI socket', async () => {
    await addAndDel(1);
  });

  it('with no agent, ADD and DEL through the full plugin in the executable, on the datastore named in the config', async () => {
    await agent?.kill('SIGTERM');
    agent = undefined;
    await addAndDel(2, { etcd_endpoints: 'http://127.0.0.1:2379' });
  });
});
