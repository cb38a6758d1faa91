import { describe, expect, it } from 'vitest';
import { parseNodeEnv, type NodeConfig } from './env.js';
import { choose, type HostAddr } from './autodetect.js';

function ok(env: Record<string, string>): NodeConfig {
  const r = parseNodeEnv(env, 'myhost');
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}
function errs(env: Record<string, string>): string[] {
  const r = parseNodeEnv(env, 'myhost');
  return r.ok ? [] : r.errors;
}

describe('parseNodeEnv', () => {
  it('has Calico defaults', () => {
    const c = ok({});
    expect(c.nodename).toBe('myhost');
    expect(c.ip).toEqual({ kind: 'autodetect', method: { kind: 'first-found' } });
    expect(c.ip6).toEqual({ kind: 'none' });
    expect(c.backend).toBe('bird');
    expect(c.defaultPool).toEqual({ cidr: '192.168.0.0/16', ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, blockSize: 26 });
    expect(c.healthPort).toBe(9099);
    expect(c.metricsPort).toBe(9091);
    expect(c.mtuFile).toBe('/var/lib/calico/mtu');
  });
  it('reads every variable', () => {
    const c = ok({
      NODENAME: 'node-1',
      IP: '10.0.0.11/24',
      IP6: 'fd00::11',
      AS: '64512',
      CALICO_NETWORKING_BACKEND: 'vxlan',
      CALICO_IPV4POOL_CIDR: '10.65.0.0/16',
      CALICO_IPV4POOL_VXLAN: 'CrossSubnet',
      CALICO_IPV4POOL_NAT_OUTGOING: 'false',
      CALICO_IPV4POOL_BLOCK_SIZE: '24',
      FELIX_VXLANMTU: '1350',
      FELIX_HEALTHPORT: '19099',
      FELIX_LOGSEVERITYSCREEN: 'Debug',
    });
    expect(c).toMatchObject({ nodename: 'node-1', ip: { kind: 'fixed', cidr: '10.0.0.11/24' }, ip6: { kind: 'fixed', cidr: 'fd00::11/128' }, asNumber: 64512, backend: 'vxlan' });
    expect(c.defaultPool).toEqual({ cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'CrossSubnet', natOutgoing: false, blockSize: 24 });
    expect(c.healthPort).toBe(19099);
    expect(c.logLevel).toBe('debug');
    expect(c.felix.VXLANMTU).toBe('1350');
  });
  it('accepts asdot AS numbers and mode spellings', () => {
    expect(ok({ AS: '1.10' }).asNumber).toBe(65546);
    expect(ok({ CALICO_IPV4POOL_IPIP: 'crosssubnet' }).defaultPool?.ipipMode).toBe('CrossSubnet');
    expect(ok({ CALICO_IPV4POOL_IPIP: 'Never' }).defaultPool?.ipipMode).toBe('Never');
    expect(ok({ CALICO_NETWORKING_BACKEND: 'none' }).defaultPool?.ipipMode).toBe('Never');
  });
  it('NO_DEFAULT_POOLS skips the pool', () => {
    expect(ok({ NO_DEFAULT_POOLS: 'true' }).defaultPool).toBeUndefined();
  });
  it('a node with IPv6 gets the IPv6 default pool from CALICO_IPV6POOL_* (no IPIP, natOutgoing off by default)', () => {
    expect(ok({}).defaultPool6).toBeUndefined();
    expect(ok({ IP6: 'autodetect' }).defaultPool6).toEqual({ cidr: '', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, blockSize: 122 });
    const c = ok({ IP6: 'autodetect', IP6_AUTODETECTION_METHOD: 'interface=eth0', CALICO_IPV6POOL_CIDR: 'fd65::/48', CALICO_IPV6POOL_BLOCK_SIZE: '120', CALICO_IPV6POOL_VXLAN: 'CrossSubnet', CALICO_IPV6POOL_NAT_OUTGOING: 'true' });
    expect(c.ip6).toMatchObject({ kind: 'autodetect', method: { kind: 'interface' } });
    expect(c.defaultPool6).toEqual({ cidr: 'fd65::/48', ipipMode: 'Never', vxlanMode: 'CrossSubnet', natOutgoing: true, blockSize: 120 });
    expect(c.defaultPool?.cidr).toBe('192.168.0.0/16');
  });
  it('an IPv6-only node (IP=none) makes no IPv4 pool', () => {
    const c = ok({ IP: 'none', IP6: 'fd00::11/64' });
    expect(c.defaultPool).toBeUndefined();
    expect(c.defaultPool6?.blockSize).toBe(122);
  });
  it('bad CALICO_IPV6POOL_* values are named', () => {
    const e = errs({ IP6: 'autodetect', CALICO_IPV6POOL_CIDR: '10.0.0.0/8', CALICO_IPV6POOL_BLOCK_SIZE: '64', CALICO_IPV6POOL_VXLAN: 'sometimes' });
    for (const v of ['CALICO_IPV6POOL_CIDR:', 'CALICO_IPV6POOL_BLOCK_SIZE:', 'CALICO_IPV6POOL_VXLAN:']) expect(e.some((x) => x.startsWith(v))).toBe(true);
  });
  it('autodetection methods', () => {
    expect(ok({ IP: 'autodetect', IP_AUTODETECTION_METHOD: 'interface=eth.*,ens.*' }).ip).toMatchObject({ kind: 'autodetect', method: { kind: 'interface' } });
    expect(ok({ IP_AUTODETECTION_METHOD: 'can-reach=8.8.8.8' }).ip).toEqual({ kind: 'autodetect', method: { kind: 'can-reach', dest: '8.8.8.8' } });
    expect(ok({ IP_AUTODETECTION_METHOD: 'cidr=10.0.0.0/8,192.168.0.0/16' }).ip).toEqual({ kind: 'autodetect', method: { kind: 'cidr', cidrs: ['10.0.0.0/8', '192.168.0.0/16'] } });
    expect(ok({ IP: 'none' }).ip).toEqual({ kind: 'none' });
  });
  it('names each bad variable', () => {
    const e = errs({
      NODENAME: 'Bad_Name',
      IP: '10.0.0.300',
      AS: 'x',
      CALICO_NETWORKING_BACKEND: 'calico',
      CALICO_IPV4POOL_CIDR: '10.65.0.0',
      CALICO_IPV4POOL_IPIP: 'sometimes',
      CALICO_IPV4POOL_NAT_OUTGOING: 'maybe',
      CALICO_IPV4POOL_BLOCK_SIZE: '40',
      FELIX_VXLANMTU: 'big',
      IP_AUTODETECTION_METHOD: 'magic',
    });
    for (const v of ['NODENAME', 'IP:', 'AS:', 'CALICO_NETWORKING_BACKEND', 'CALICO_IPV4POOL_CIDR', 'CALICO_IPV4POOL_IPIP', 'CALICO_IPV4POOL_NAT_OUTGOING', 'CALICO_IPV4POOL_BLOCK_SIZE', 'FELIX_VXLANMTU']) {
      expect(e.some((m) => m.startsWith(v)), v).toBe(true);
    }
    expect(errs({ CALICO_IPV4POOL_IPIP: 'Always', CALICO_IPV4POOL_VXLAN: 'Always' })[0]).toMatch(/cannot both/);
    expect(errs({ IP_AUTODETECTION_METHOD: 'interface=(' })[0]).toMatch(/IP_AUTODETECTION_METHOD: bad interface regex/);
    expect(errs({ CALICO_IPV4POOL_CIDR: '10.0.0.0/28' })[0]).toMatch(/BLOCK_SIZE: \/26 is larger/);
  });
});

describe('autodetect choose()', () => {
  const addrs: HostAddr[] = [
    { iface: 'lo', cidr: '127.0.0.1/8', family: 4 },
    { iface: 'docker0', cidr: '172.17.0.1/16', family: 4 },
    { iface: 'cali123', cidr: '169.254.1.1/32', family: 4 },
    { iface: 'eth0', cidr: '10.0.0.11/24', family: 4 },
    { iface: 'eth1', cidr: '192.168.5.2/24', family: 4 },
    { iface: 'eth0', cidr: 'fe80::1/64', family: 6 },
    { iface: 'eth0', cidr: 'fd00::11/64', family: 6 },
  ];
  it('first-found skips loopback, docker, cali, link-local', () => {
    expect(choose({ kind: 'first-found' }, 4, addrs)?.cidr).toBe('10.0.0.11/24');
    expect(choose({ kind: 'first-found' }, 6, addrs)?.cidr).toBe('fd00::11/64');
  });
  it('interface / skip-interface regex', () => {
    expect(choose({ kind: 'interface', regex: /eth1/ }, 4, addrs)?.cidr).toBe('192.168.5.2/24');
    expect(choose({ kind: 'skip-interface', regex: /eth0/ }, 4, addrs)?.cidr).toBe('192.168.5.2/24');
    expect(choose({ kind: 'interface', regex: /wlan/ }, 4, addrs)).toBeUndefined();
  });
  it('cidr and can-reach', () => {
    expect(choose({ kind: 'cidr', cidrs: ['192.168.0.0/16'] }, 4, addrs)?.iface).toBe('eth1');
    expect(choose({ kind: 'can-reach', dest: '8.8.8.8' }, 4, addrs, '10.0.0.11')?.cidr).toBe('10.0.0.11/24');
    expect(choose({ kind: 'can-reach', dest: '8.8.8.8' }, 4, addrs, undefined)).toBeUndefined();
  });
});
