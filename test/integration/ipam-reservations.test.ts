// IPReservation and IPPool assignmentMode on a real etcd, applied with the built tortiectl: the
// reservation lands at Calico's key, and the allocator hands out every other address of the pool,
// never a reserved one, and draws from a Manual pool only when asked for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { IpamClient } from '../../ipam/allocator.js';
import { parseCidr, parseIp } from '../../ipam/cidr.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { ctl, ensureBuilt, etcdGetPrefix, snapshot } from './ctl-helpers.js';

let etcd: EtcdServer;
let be: EtcdBackend;
let env: Record<string, string>;

const DOCS = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pods}
spec: {cidr: 10.80.0.0/22, blockSize: 26}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: legacy-firewall}
spec: {cidr: 10.81.0.0/24, assignmentMode: Manual}
---
apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: infra}
spec:
  reservedCIDRs: [10.80.0.1, 10.80.1.0/26, 10.80.2.16/28, 10.80.3.255]
`;

beforeAll(async () => {
  await ensureBuilt();
  etcd = await startEtcd();
  env = { ETCD_ENDPOINTS: etcd.endpoint, DATASTORE_TYPE: 'etcdv3' };
  be = new EtcdBackend({ endpoints: [etcd.endpoint] });
});

afterAll(async () => {
  await be?.close();
  await etcd?.stop();
});

describe('IPReservation and assignmentMode on etcd', () => {
  it('tortiectl apply stores the reservation at Calico\'s key and get shows it; a bad CIDR is refused naming the field', async () => {
    const r = await ctl(['apply', '-f', '-'], { env, input: DOCS });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const kv = await etcdGetPrefix(etcd.endpoint, '/calico/resources/v3/projectcalico.org/ipreservations/');
    const [key, value] = kv.trim().split('\n');
    expect(key).toBe('/calico/resources/v3/projectcalico.org/ipreservations/infra');
    expect(JSON.parse(value)).toMatchObject({ kind: 'IPReservation', spec: { reservedCIDRs: ['10.80.0.1', '10.80.1.0/26', '10.80.2.16/28', '10.80.3.255'] } });
    const got = await ctl(['get', 'ipreservations'], { env });
    expect(got.stdout).toMatch(/^NAME\s+CIDRS\s*\ninfra\s+10\.80\.0\.1,10\.80\.1\.0\/26,10\.80\.2\.16\/28,10\.80\.3\.255\s*\n$/);
    const before = await snapshot(etcd.endpoint);
    const bad = await ctl(['apply', '-f', '-'], { env, input: 'apiVersion: projectcalico.org/v3\nkind: IPReservation\nmetadata: {name: bad}\nspec: {reservedCIDRs: [10.80.0.300]}\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/spec\.reservedCIDRs\[0\]: "10\.80\.0\.300" is not an IP address or CIDR/);
    expect(await snapshot(etcd.endpoint)).toBe(before);
  });

  it('allocating the whole pool on two nodes hands out each of its 1024 − 82 unreserved addresses once and no reserved one', async () => {
    const ipam = new IpamClient(new EtcdStore(be));
    const reserved = (ip: string): boolean => {
      const v = parseIp(ip).value;
      return ['10.80.0.1/32', '10.80.1.0/26', '10.80.2.16/28', '10.80.3.255/32'].some((c) => {
        const n = parseCidr(c);
        return v >= n.base && v < n.base + (1n << BigInt(32 - n.prefix));
      });
    };
    const got: string[] = [];
    for (let i = 0; ; i++) {
      try {
        const r = await ipam.autoAssign({ handleId: `pod-${i}`, hostname: i % 2 ? 'node-b' : 'node-a', num4: 40 });
        got.push(...r.ipv4.map((a) => a.ip));
      } catch {
        break; // all-or-nothing: the last, partial request fails
      }
    }
    const rest = await ipam.autoAssign({ handleId: 'tail', hostname: 'node-a', num4: 1024 - 82 - got.length });
    got.push(...rest.ipv4.map((a) => a.ip));
    expect(got.filter(reserved)).toEqual([]);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toHaveLength(1024 - 1 - 64 - 16 - 1);
    expect(got.some((ip) => ip.startsWith('10.81.'))).toBe(false); // the Manual pool is never used automatically
    await expect(ipam.autoAssign({ handleId: 'more', hostname: 'node-a', num4: 1 })).rejects.toThrow(/no free address/);
    // The wholly reserved block was never claimed.
    expect(await ipam.getBlock('10.80.1.0/26')).toBeUndefined();
  });

  it('a Manual pool serves a pod that names it (cni.projectcalico.org/ipv4pools or ipam.ipv4_pools)', async () => {
    const ipam = new IpamClient(new EtcdStore(be));
    const r = await ipam.autoAssign({ handleId: 'firewalled', hostname: 'node-a', num4: 1, ipv4Pools: ['legacy-firewall'] });
    expect(r.ipv4[0].ip).toBe('10.81.0.0');
  });
});
