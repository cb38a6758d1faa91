// The tortie-ipam plugin logic (ipamMain, what bin/tortie-ipam runs) against a real etcd, in-process:
// the CNI config's ipam.ipv4_pools, assign_ipv6 with an IPv6 pool (/128 from a /122 block), IP= in
// CNI_ARGS, a retried ADD, CHECK, and DEL that is idempotent. No namespaces needed: IPAM only
// touches the datastore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipamMain } from '../../cni/ipam-plugin.js';
import { CniError } from '../../cni/errors.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { ipamHandleKey } from '../../datastore/keys.js';
import { putPool } from '../../ipam/testing.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';

let etcd: EtcdServer;
let be: EtcdBackend;

const conf = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', etcd_endpoints: etcd.endpoint, nodename: 'ipam-node', ipam: { type: 'tortie-ipam', ...ipam }, ...extra });

const env = (command: string, cid: string, args = ''): NodeJS.ProcessEnv => ({ CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: args });

const addresses = (r: Record<string, unknown> | undefined): string[] => ((r?.ips ?? []) as { address: string }[]).map((i) => i.address);

beforeAll(async () => {
  etcd = await startEtcd();
  be = new EtcdBackend({ endpoints: [etcd.endpoint] });
  await putPool(new EtcdStore(be), 'default-ipv4', { cidr: '10.50.0.0/16' });
  await putPool(new EtcdStore(be), 'rack-b', { cidr: '10.60.0.0/16' });
  await putPool(new EtcdStore(be), 'default-ipv6', { cidr: 'fd00:50::/64' });
});

afterAll(async () => {
  await be?.close();
  await etcd?.stop();
});

describe('tortie-ipam over a real etcd', () => {
  it('ipam.ipv4_pools in the CNI config chooses the pool; assign_ipv6 adds a /128 from a /122 block', async () => {
    const r = await ipamMain(conf({ ipv4_pools: ['rack-b'], assign_ipv6: 'true' }), env('ADD', 'c-pools'));
    const [v4, v6] = addresses(r);
    expect(v4).toMatch(/^10\.60\.\d+\.\d+\/32$/);
    expect(v6).toMatch(/^fd00:50::[0-9a-f:]*\/128$/);
    expect(await be.get('/calico/ipam/v2/assignment/ipv6/block/fd00:50::-122')).toBeDefined();
    // Pools named by CIDR work too.
    const byCidr = await ipamMain(conf({ ipv4_pools: ['10.50.0.0/16'] }), env('ADD', 'c-cidr'));
    expect(addresses(byCidr)[0]).toMatch(/^10\.50\./);
  });

  it('a retried ADD for the same container returns what it already holds', async () => {
    const a = await ipamMain(conf({}), env('ADD', 'c-retry'));
    const b = await ipamMain(conf({}), env('ADD', 'c-retry'));
    expect(addresses(b)).toEqual(addresses(a));
  });

  it('IP= in CNI_ARGS requests one address; one in use is refused', async () => {
    const r = await ipamMain(conf({}), env('ADD', 'c-ip', 'IgnoreUnknown=1;IP=10.50.9.9'));
    expect(addresses(r)).toEqual(['10.50.9.9/32']);
    await expect(ipamMain(conf({}), env('ADD', 'c-ip2', 'IgnoreUnknown=1;IP=10.50.9.9'))).rejects.toThrow(/10\.50\.9\.9 is already in use/);
    expect(await be.get(ipamHandleKey('k8s-pod-network.c-ip2'))).toBeUndefined();
  });

  it('CHECK passes while the handle holds prevResult’s addresses; DEL frees them and is idempotent', async () => {
    const r = await ipamMain(conf({}), env('ADD', 'c-del'));
    expect(await ipamMain(conf({}, { prevResult: r }), env('CHECK', 'c-del'))).toBeUndefined();
    expect(await ipamMain(conf({}), env('DEL', 'c-del'))).toBeUndefined();
    expect(await be.get(ipamHandleKey('k8s-pod-network.c-del'))).toBeUndefined();
    const check = ipamMain(conf({}, { prevResult: r }), env('CHECK', 'c-del'));
    await expect(check).rejects.toBeInstanceOf(CniError);
    await expect(check).rejects.toMatchObject({ code: 102 });
    expect(await ipamMain(conf({}), env('DEL', 'c-del'))).toBeUndefined();
  });

  it('an unknown pool name is an error naming it, and nothing is held', async () => {
    await expect(ipamMain(conf({ ipv4_pools: ['no-such-pool'] }), env('ADD', 'c-nopool'))).rejects.toThrow(/no-such-pool/);
    expect(await be.get(ipamHandleKey('k8s-pod-network.c-nopool'))).toBeUndefined();
  });
});
