// IP autodetection (Calico's IP_AUTODETECTION_METHOD). choose() is pure over the host's interface
// list; the shell part reads `ip -j addr` and `ip -j route get`.
import { tool } from '../felix/dataplane/exec.js';
import { contains, parseCidr } from '../felix/calc/cidr.js';
import type { AutodetectMethod } from './env.js';

export interface HostAddr {
  iface: string;
  /** "10.0.0.11/24" */
  cidr: string;
  family: 4 | 6;
}

/** Interfaces Calico never picks with first-found (its default exclude list). */
const EXCLUDED = /^(docker.*|cbr.*|dummy.*|virbr.*|lxcbr.*|veth.*|lo|cali.*|tunl.*|flannel.*|kube-ipvs.*|cni.*|vxlan\.calico.*|vxlan-v6\.calico.*|wireguard\.cali.*|wg-v6\.cali.*|nodelocaldns.*)$/;

function usable(a: HostAddr): boolean {
  const ip = a.cidr.split('/')[0] ?? '';
  if (a.family === 4) return !ip.startsWith('127.') && !ip.startsWith('169.254.');
  return !ip.startsWith('fe80') && ip !== '::1';
}

/** `routeSrc` answers can-reach: the source address the kernel would use towards dest. */
export function choose(method: AutodetectMethod, family: 4 | 6, addrs: readonly HostAddr[], routeSrc?: string): HostAddr | undefined {
  const cands = addrs.filter((a) => a.family === family && usable(a));
  switch (method.kind) {
    case 'first-found':
      return cands.find((a) => !EXCLUDED.test(a.iface));
    case 'interface':
      return cands.find((a) => method.regex.test(a.iface));
    case 'skip-interface':
      return cands.find((a) => !EXCLUDED.test(a.iface) && !method.regex.test(a.iface));
    case 'can-reach':
      return routeSrc ? cands.find((a) => a.cidr.split('/')[0] === routeSrc) : undefined;
    case 'cidr': {
      const nets = method.cidrs.map((c) => parseCidr(c)).filter((n) => n !== undefined);
      return cands.find((a) => nets.some((n) => contains(n, a.cidr.split('/')[0] ?? '')));
    }
  }
}

interface IpAddrJson {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

/** `ip -j addr show` output → every address with its interface. */
export function parseIpAddrJson(text: string): HostAddr[] {
  const out = JSON.parse(text) as IpAddrJson[];
  return out.flatMap((l) => (l.addr_info ?? []).map((a) => ({ iface: l.ifname, cidr: `${a.local}/${a.prefixlen}`, family: a.family === 'inet6' ? (6 as const) : (4 as const) })));
}

export async function hostAddresses(): Promise<HostAddr[]> {
  return parseIpAddrJson(await tool('ip', ['-j', 'addr', 'show']));
}

export async function autodetect(method: AutodetectMethod, family: 4 | 6): Promise<HostAddr | undefined> {
  const addrs = await hostAddresses();
  let src: string | undefined;
  if (method.kind === 'can-reach') {
    const r = JSON.parse(await tool('ip', ['-j', `-${family}`, 'route', 'get', method.dest]).catch(() => '[]')) as Array<{ prefsrc?: string }>;
    src = r[0]?.prefsrc;
  }
  return choose(method, family, addrs, src);
}
