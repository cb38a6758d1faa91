// The tortie CNI plugins run the way a container runtime runs them, against etcd inside a host
// namespace: 20 pods on one host with pod↔pod ping, CHECK before/after damage, DEL cleanup, rollback of a
// failed ADD, error JSON for bad input, and a conflist chaining tortie with the reference portmap plugin.
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import { execPlugin, startEtcdIn, writePluginWrappers, type PluginRun } from './cni-helpers.js';
import { NetnsSet } from '../harness/netns.js';
import { hostVethName } from '../../cni/wep.js';

const NODE = 'node-e2e';

describe('CNI plugins in network namespaces', () => {
  const nets = new NetnsSet('g');
  let host = '';
  let etcd: EtcdServer | undefined;
  let binDir = '';
  const pods: { ns: string; name: string; cid: string; ip: string; result: Record<string, unknown> }[] = [];

  const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'tortie',
    etcd_endpoints: 'http://127.0.0.1:2379',
    log_level: 'info',
    nodename: NODE,
    mtu: 1440,
    ipam: { type: 'calico-ipam' }, // as in calico.conf; answered by tortie-ipam
    ...extra,
  });

  function plugin(type: string, command: string, stdin: Record<string, unknown> | string, opts: { cid?: string; netns?: string; pod?: string; env?: Record<string, string> } = {}): Promise<PluginRun> {
    const env: Record<string, string> = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: opts.cid ?? '',
      CNI_NETNS: opts.netns ?? '',
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
      CNI_ARGS: opts.pod ? `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${opts.pod};K8S_POD_INFRA_CONTAINER_ID=${opts.cid}` : '',
      ...opts.env,
    };
    return execPlugin(host, join(binDir, type), env, stdin);
  }

  const inHost = (argv: string[]): Promise<string> => nets.exec(host, argv).then((r) => r.stdout);
  let etcdctl: (args: string[]) => Promise<string> = () => Promise.reject(new Error('etcd not started'));
  const keys = async (prefix: string): Promise<string[]> => (await etcdctl(['get', '--prefix', '--keys-only', prefix])).split('\n').filter(Boolean);
  const exists = async (key: string): Promise<boolean> => (await etcdctl(['get', '--keys-only', key])).trim() !== '';

  beforeAll(async () => {
    host = await nets.add('host');
    await inHost(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // A real host has a default route; proxy-ARP answers for 169.254.1.1 only when the host can route it.
    await inHost(['ip', 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
    await inHost(['ip', 'link', 'set', 'uplink1', 'up']);
    await inHost(['ip', 'link', 'set', 'uplink0', 'up']);
    await inHost(['ip', 'route', 'add', 'default', 'dev', 'uplink0']);
    ({ etcd, etcdctl } = await startEtcdIn(nets, host));
    await etcdctl([
      'put',
      '/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool',
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '10.244.0.0/16', blockSize: 26 } }),
    ]);
    await etcdctl([
      'put',
      '/calico/resources/v3/projectcalico.org/ippools/default-ipv6-ippool',
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'default-ipv6-ippool' }, spec: { cidr: 'fd00:244::/64' } }),
    ]);
    await inHost(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    await etcdctl(['put', `/calico/resources/v3/projectcalico.org/nodes/${NODE}`, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: NODE }, spec: {} })]);
    binDir = mkdtempSync(join(tmpdir(), 'tortie-cni-bin-'));
    chmodSync(binDir, 0o755);
    writePluginWrappers(binDir, { tortie: 'tortie', 'tortie-ipam': 'tortie-ipam' });
    symlinkSync('/usr/lib/cni/portmap', join(binDir, 'portmap'));
  });

  afterAll(async () => {
    await etcd?.stop();
    await nets.cleanup();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it('ADD for 20 pods gives each a working interface; pods on the host reach each other', async () => {
    for (let i = 0; i < 20; i++) {
      const ns = await nets.add(`p${i}`);
      const cid = `c${process.pid}x${i}`;
      const r = await plugin('tortie', 'ADD', conf(), { cid, netns: `/var/run/netns/${ns}`, pod: `pod-${i}` });
      expect(r.code, r.raw).toBe(0);
      const ips = r.out?.ips as { address: string }[];
      expect(ips[0].address).toMatch(/^10\.244\.\d+\.\d+\/32$/);
      pods.push({ ns, name: `pod-${i}`, cid, ip: ips[0].address.split('/')[0], result: r.out! });
    }
    expect(new Set(pods.map((p) => p.ip)).size).toBe(20);
    // Interface names as Calico makes them; the pod side has the /32 and the default route.
    const veth = hostVethName('default', 'pod-0', pods[0].cid);
    expect((pods[0].result.interfaces as { name: string }[])[0].name).toBe(veth);
    expect(await inHost(['cat', `/proc/sys/net/ipv4/conf/${veth}/proxy_arp`])).toBe('1\n');
    expect(await inHost(['ip', 'route', 'show', `${pods[0].ip}/32`])).toContain(`dev ${veth}`);
    const route = (await nets.exec(pods[0].ns, ['ip', 'route', 'show', 'default'])).stdout;
    expect(route).toContain('via 169.254.1.1 dev eth0');
    for (const [a, b] of [
      [0, 19],
      [5, 6],
      [12, 3],
    ]) {
      await nets.exec(pods[a].ns, ['ping', '-c', '1', '-W', '3', pods[b].ip]);
    }
    const weps = await keys('/calico/resources/v3/projectcalico.org/workloadendpoints/default/');
    expect(weps).toContain(`/calico/resources/v3/projectcalico.org/workloadendpoints/default/node--e2e-k8s-pod--0-eth0`);
    expect(weps).toHaveLength(20);
    // 40 plugin processes (tortie + its IPAM child per pod): ~30 s on an idle 2-core machine, several
    // minutes when the machine is shared; the limit only guards against a hang.
  }, 600_000);

  it('CHECK passes after ADD and fails once the interface is damaged by hand', async () => {
    const p = pods[2];
    const withPrev = conf({ prevResult: p.result });
    const ok = await plugin('tortie', 'CHECK', withPrev, { cid: p.cid, netns: `/var/run/netns/${p.ns}`, pod: p.name });
    expect(ok.code, ok.raw).toBe(0);
    await nets.exec(p.ns, ['ip', 'addr', 'del', `${p.ip}/32`, 'dev', 'eth0']);
    const bad = await plugin('tortie', 'CHECK', withPrev, { cid: p.cid, netns: `/var/run/netns/${p.ns}`, pod: p.name });
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatchObject({ cniVersion: '1.0.0', code: 102 });
    expect(String(bad.out?.msg)).toContain(`lacks address ${p.ip}/32`);
    const veth = hostVethName('default', p.name, p.cid);
    await inHost(['ip', 'link', 'set', veth, 'down']);
    const down = await plugin('tortie', 'CHECK', withPrev, { cid: p.cid, netns: `/var/run/netns/${p.ns}`, pod: p.name });
    expect(String(down.out?.msg)).toContain(`${veth} is down`);
  });

  it('DEL removes interface, route, WorkloadEndpoint and IP, and is idempotent', async () => {
    const p = pods[1];
    const veth = hostVethName('default', p.name, p.cid);
    const r = await plugin('tortie', 'DEL', conf(), { cid: p.cid, netns: `/var/run/netns/${p.ns}`, pod: p.name });
    expect(r.code, r.raw).toBe(0);
    await expect(inHost(['ip', 'link', 'show', veth])).rejects.toThrow();
    expect(await inHost(['ip', 'route', 'show', `${p.ip}/32`])).toBe('');
    expect(await exists('/calico/resources/v3/projectcalico.org/workloadendpoints/default/node--e2e-k8s-pod--1-eth0')).toBe(false);
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.${p.cid}`)).toBe(false);
    const blocks = await etcdctl(['get', '--prefix', '--print-value-only', '/calico/ipam/v2/assignment/ipv4/block/']);
    expect(blocks).not.toContain(`"k8s-pod-network.${p.cid}"`);
    const again = await plugin('tortie', 'DEL', conf(), { cid: p.cid, netns: '', pod: p.name });
    expect(again.code, again.raw).toBe(0);
  });

  it('a failed ADD rolls back: no interface and no address left', async () => {
    const cid = `c${process.pid}fail`;
    const r = await plugin('tortie', 'ADD', conf(), { cid, netns: '/var/run/netns/does-not-exist', pod: 'pod-fail' });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatchObject({ code: 101 });
    await expect(inHost(['ip', 'link', 'show', hostVethName('default', 'pod-fail', cid)])).rejects.toThrow();
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toBe(false);
    expect(await exists('/calico/resources/v3/projectcalico.org/workloadendpoints/default/node--e2e-k8s-pod--fail-eth0')).toBe(false);
  });

  it('bad stdin, a missing variable or an unreachable datastore give the error JSON, never a stack trace', async () => {
    const bad = await plugin('tortie', 'ADD', '{not json', { cid: 'x', netns: '/x' });
    expect(bad.out).toMatchObject({ code: 6 });
    const noNetns = await plugin('tortie', 'ADD', conf(), { cid: 'x' });
    expect(noNetns.out).toMatchObject({ code: 4, msg: 'CNI_NETNS is not set (required for ADD)' });
    // A refused connection is retried until the command's deadline (timeout_seconds), then reported.
    const down = await plugin('tortie-ipam', 'ADD', conf({ etcd_endpoints: 'http://127.0.0.1:9', timeout_seconds: 2 }), { cid: 'x', netns: '/x' });
    expect(down.out).toMatchObject({ code: 11 });
    expect(String(down.out?.msg)).toContain('127.0.0.1:9');
    for (const r of [bad, noNetns, down]) expect(r.raw).not.toMatch(/\n\s+at /);
    const ver = await plugin('tortie-ipam', 'VERSION', '');
    expect(ver.out).toMatchObject({ cniVersion: '1.0.0' });
  });

  it('dual stack: assign_ipv6 gives each pod a /32 and a /128 with Calico\'s link-local gateway; pods reach each other over IPv6', async () => {
    const dual: { ns: string; cid: string; v6: string }[] = [];
    for (const i of [0, 1]) {
      const ns = await nets.add(`d${i}`);
      const cid = `c${process.pid}d${i}`;
      const r = await plugin('tortie', 'ADD', conf({ ipam: { type: 'calico-ipam', assign_ipv4: 'true', assign_ipv6: 'true' } }), { cid, netns: `/var/run/netns/${ns}`, pod: `dual-${i}` });
      expect(r.code, r.raw).toBe(0);
      const addrs = (r.out?.ips as { address: string }[]).map((x) => x.address);
      expect(addrs[0]).toMatch(/^10\.244\.\d+\.\d+\/32$/);
      expect(addrs[1]).toMatch(/^fd00:244::[0-9a-f:]*\/128$/);
      dual.push({ ns, cid, v6: addrs[1].split('/')[0] });
    }
    const route6 = (await nets.exec(dual[0].ns, ['ip', '-6', 'route', 'show', 'default'])).stdout;
    expect(route6).toContain('via fe80::ecee:eeff:feee:eeee dev eth0');
    expect(await inHost(['ip', '-6', 'route', 'show', `${dual[1].v6}/128`])).toContain(`dev ${hostVethName('default', 'dual-1', dual[1].cid)}`);
    await nets.exec(dual[0].ns, ['ping', '-6', '-c', '1', '-W', '3', dual[1].v6]);
    for (const [i, d] of dual.entries()) {
      const r = await plugin('tortie', 'DEL', conf({ ipam: { type: 'calico-ipam', assign_ipv6: 'true' } }), { cid: d.cid, netns: `/var/run/netns/${d.ns}`, pod: `dual-${i}` });
      expect(r.code, r.raw).toBe(0);
      expect(await inHost(['ip', '-6', 'route', 'show', `${d.v6}/128`])).toBe('');
    }
  });

  it('a conflist chaining tortie with the reference portmap plugin passes ADD and DEL', async () => {
    const ns = await nets.add('pm');
    const cid = `c${process.pid}pm`;
    const list = {
      cniVersion: '1.0.0',
      name: 'k8s-pod-network',
      plugins: [conf({ cniVersion: undefined, name: undefined }), { type: 'portmap', snat: true, capabilities: { portMappings: true } }],
    };
    const runtimeConfig = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };
    const pluginConf = (i: number, prevResult?: Record<string, unknown>): Record<string, unknown> => ({
      ...list.plugins[i],
      cniVersion: list.cniVersion,
      name: list.name,
      ...(i === 1 ? { runtimeConfig } : {}),
      ...(prevResult ? { prevResult } : {}),
    });
    const opts = { cid, netns: `/var/run/netns/${ns}`, pod: 'pod-pm' };
    const a0 = await plugin('tortie', 'ADD', pluginConf(0), opts);
    expect(a0.code, a0.raw).toBe(0);
    const a1 = await plugin('portmap', 'ADD', pluginConf(1, a0.out), opts);
    expect(a1.code, a1.raw).toBe(0);
    expect(a1.out?.ips).toEqual(a0.out?.ips);
    expect(await inHost(['iptables-save', '-t', 'nat'])).toContain('18080');
    const c0 = await plugin('tortie', 'CHECK', pluginConf(0, a1.out), opts);
    expect(c0.code, c0.raw).toBe(0);
    // DEL in reverse order, as a runtime does.
    const d1 = await plugin('portmap', 'DEL', pluginConf(1, a1.out), opts);
    expect(d1.code, d1.raw).toBe(0);
    const d0 = await plugin('tortie', 'DEL', pluginConf(0, a1.out), opts);
    expect(d0.code, d0.raw).toBe(0);
    expect(await inHost(['iptables-save', '-t', 'nat'])).not.toContain('18080');
    expect(await exists(`/calico/ipam/v2/handle/k8s-pod-network.${cid}`)).toBe(false);
  });
});
