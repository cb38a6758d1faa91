// CNI results in the shape the requested cniVersion expects (0.1/0.2 legacy ip4/ip6, 0.3+ ips[]).
import { CNI_CODES, CniError } from './errors.js';

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIp {
  address: string; // CIDR form
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniResult {
  interfaces?: CniInterface[];
  ips: CniIp[];
  routes?: CniRoute[];
  dns?: Record<string, unknown>;
}

const legacy = (v: string): boolean => v.startsWith('0.1.') || v.startsWith('0.2.');

export function encodeResult(cniVersion: string, r: CniResult): Record<string, unknown> {
  if (legacy(cniVersion)) {
    const pick = (v6: boolean): Record<string, unknown> | undefined => {
      const ip = r.ips.find((i) => i.address.includes(':') === v6);
      if (!ip) return undefined;
      return { ip: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}), routes: (r.routes ?? []).filter((x) => x.dst.includes(':') === v6) };
    };
    const ip4 = pick(false);
    const ip6 = pick(true);
    return { cniVersion, ...(ip4 ? { ip4 } : {}), ...(ip6 ? { ip6 } : {}), dns: r.dns ?? {} };
  }
  const pre04 = cniVersion === '0.3.0' || cniVersion === '0.3.1' || cniVersion === '0.4.0';
  return {
    cniVersion,
    ...(r.interfaces ? { interfaces: r.interfaces } : {}),
    ips: r.ips.map((i) => ({ ...(pre04 ? { version: i.address.includes(':') ? '6' : '4' } : {}), ...i })),
    ...(r.routes ? { routes: r.routes } : {}),
    dns: r.dns ?? {},
  };
}

/** Reads a result of any supported version (from an IPAM plugin or prevResult). */
export function decodeResult(o: unknown, what: string): CniResult {
  if (typeof o !== 'object' || o === null) throw new CniError(CNI_CODES.decodeFailure, `${what} is not a JSON object`);
  const r = o as Record<string, unknown>;
  if (Array.isArray(r.ips)) {
    const ips = (r.ips as Record<string, unknown>[]).map((i, n) => {
      if (typeof i?.address !== 'string') throw new CniError(CNI_CODES.decodeFailure, `${what}: ips[${n}].address is missing`);
      return { address: i.address, ...(typeof i.gateway === 'string' ? { gateway: i.gateway } : {}), ...(typeof i.interface === 'number' ? { interface: i.interface } : {}) };
    });
    return {
      ips,
      interfaces: Array.isArray(r.interfaces) ? (r.interfaces as CniInterface[]) : undefined,
      routes: Array.isArray(r.routes) ? (r.routes as CniRoute[]) : undefined,
      dns: (r.dns as Record<string, unknown>) ?? {},
    };
  }
  const ips: CniIp[] = [];
  for (const k of ['ip4', 'ip6']) {
    const v = r[k] as { ip?: string; gateway?: string } | undefined;
    if (v?.ip) ips.push({ address: v.ip, ...(v.gateway ? { gateway: v.gateway } : {}) });
  }
  if (ips.length === 0) throw new CniError(CNI_CODES.decodeFailure, `${what} has no ips`);
  return { ips, dns: (r.dns as Record<string, unknown>) ?? {} };
}
