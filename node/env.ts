// tortie-node configuration from Calico's environment variable names. Pure: takes the env map,
// returns the config or a list of errors naming each bad variable.
import { GOBGP_API_HOSTS_ENV, parseApiHosts } from '../bgp/api/gobgp/hosts.js';
import { isIP } from 'node:net';
import type { EncapMode } from '../felix/calc/types.js';
import { MTU_FILE } from '../felix/mtu.js';

export type AutodetectMethod =
  | { kind: 'first-found' }
  | { kind: 'interface'; regex: RegExp }
  | { kind: 'skip-interface'; regex: RegExp }
  | { kind: 'can-reach'; dest: string }
  | { kind: 'cidr'; cidrs: string[] };

export type IpSetting = { kind: 'autodetect'; method: AutodetectMethod } | { kind: 'fixed'; cidr: string } | { kind: 'none' };

export interface DefaultPool {
  cidr: string;
  ipipMode: EncapMode;
  vxlanMode: EncapMode;
  natOutgoing: boolean;
  blockSize: number;
}

export interface NodeConfig {
  nodename: string;
  ip: IpSetting;
  ip6: IpSetting;
  asNumber?: number;
  backend: 'bird' | 'vxlan' | 'none';
  defaultPool?: DefaultPool;
  /** The IPv6 pool made at start when the node has IPv6 (IP6 not none): CALICO_IPV6POOL_*. */
  defaultPool6?: DefaultPool;
  /** FELIX_* overrides, keyed by the part after FELIX_ upper-cased (e.g. VXLANMTU). */
  felix: Record<string, string>;
  /** Where felix leaves the pod MTU for the CNI plugin (Calico's /var/lib/calico/mtu; TORTIE_MTU_FILE). */
  mtuFile: string;
  healthHost: string;
  healthPort: number;
  metricsPort: number;
  logLevel: string;
  bgpPort: number;
  /** Where the CNI plugins reach this agent (TORTIE_CNI_SOCKET); empty: not served. */
  cniSocket: string;
  /** Where the GoBGP API listens ([] = off), TORTIE_GOBGP_API_HOSTS (gobgpd's --api-hosts form). */
  gobgpApiHosts: string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

/** TORTIE_GOBGP_API_HOSTS, shared with tortie-rr. */
export function apiHosts(env: Env, errors: string[]): string[] {
  const r = parseApiHosts(env[GOBGP_API_HOSTS_ENV]);
  if ('error' in r) {
    errors.push(r.error);
    return [];
  }
  return r.hosts;
}

const MODES: Record<string, EncapMode> = { always: 'Always', crosssubnet: 'CrossSubnet', never: 'Never', off: 'Never', false: 'Never', true: 'Always' };

function cidrOk(s: string, family?: 4 | 6): boolean {
  const [a, l, extra] = s.split('/');
  if (!a || l === undefined || extra !== undefined || !/^\d+$/.test(l)) return false;
  const f = isIP(a);
  if (!f || (family && f !== family)) return false;
  return Number(l) <= (f === 4 ? 32 : 128);
}

export function parseAutodetect(v: string | undefined, errors: string[], name: string): AutodetectMethod {
  const s = (v ?? 'first-found').trim();
  if (s === '' || s === 'first-found') return { kind: 'first-found' };
  const eq = s.indexOf('=');
  const key = eq < 0 ? s : s.slice(0, eq);
  const arg = eq < 0 ? '' : s.slice(eq + 1);
  const regex = (): RegExp => {
    try {
      // Calico matches interface names with Go regexps, whole-name not required; a comma list is any-of.
      return new RegExp(arg.split(',').map((r) => `(?:${r})`).join('|'));
    } catch (e) {
      errors.push(`${name}: bad interface regex "${arg}": ${e instanceof Error ? e.message : String(e)}`);
      return /$^/;
    }
  };
  switch (key) {
    case 'interface':
      return { kind: 'interface', regex: regex() };
    case 'skip-interface':
      return { kind: 'skip-interface', regex: regex() };
    case 'can-reach':
      if (!arg) errors.push(`${name}: can-reach needs a destination (can-reach=8.8.8.8)`);
      return { kind: 'can-reach', dest: arg };
    case 'cidr': {
      const cidrs = arg.split(',').map((c) => c.trim()).filter(Boolean);
      for (const c of cidrs) if (!cidrOk(c)) errors.push(`${name}: "${c}" is not a CIDR`);
      if (!cidrs.length) errors.push(`${name}: cidr needs at least one CIDR (cidr=10.0.0.0/8)`);
      return { kind: 'cidr', cidrs };
    }
    default:
      errors.push(`${name}: unknown method "${s}" (first-found | interface=REGEX | skip-interface=REGEX | can-reach=DEST | cidr=CIDR,…)`);
      return { kind: 'first-found' };
  }
}

function ipSetting(env: Env, name: 'IP' | 'IP6', errors: string[]): IpSetting {
  const family = name === 'IP' ? 4 : 6;
  const v = env[name]?.trim();
  const methodVar = name === 'IP' ? 'IP_AUTODETECTION_METHOD' : 'IP6_AUTODETECTION_METHOD';
  if (v === undefined || v === '') return name === 'IP' ? { kind: 'autodetect', method: parseAutodetect(env[methodVar], errors, methodVar) } : { kind: 'none' };
  if (v === 'autodetect') return { kind: 'autodetect', method: parseAutodetect(env[methodVar], errors, methodVar) };
  if (v === 'none') return { kind: 'none' };
  const cidr = v.includes('/') ? v : `${v}/${family === 4 ? 32 : 128}`;
  if (!cidrOk(cidr, family)) {
    errors.push(`${name}: "${v}" is not an IPv${family} address (or "autodetect" / "none")`);
    return { kind: 'none' };
  }
  return { kind: 'fixed', cidr };
}

function bool(env: Env, name: string, def: boolean, errors: string[]): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return def;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  errors.push(`${name}: "${env[name]}" is not true or false`);
  return def;
}

function int(env: Env, name: string, def: number, min: number, max: number, errors: string[]): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    errors.push(`${name}: "${v}" must be an integer ${min}..${max}`);
    return def;
  }
  return Number(v);
}

/** The tunnel MTUs felix/mtu.ts reads from `felix`: refused at start when malformed, as Calico's felix does. */
function checkMtus(env: Env, errors: string[]): void {
  for (const name of ['FELIX_IPINIPMTU', 'FELIX_VXLANMTU', 'FELIX_VXLANMTUV6']) {
    const v = env[name]?.trim();
    if (v !== undefined && v !== '' && !(/^\d+$/.test(v) && (Number(v) === 0 || (Number(v) >= 68 && Number(v) <= 65535)))) {
      errors.push(`${name}: "${v}" must be 0 (computed from the host MTU) or an integer 68..65535`);
    }
  }
}

function mode(env: Env, name: string, errors: string[]): EncapMode {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return 'Never';
  const m = MODES[v.toLowerCase()];
  if (!m) errors.push(`${name}: "${v}" must be Always, CrossSubnet or Never`);
  return m ?? 'Never';
}

/** The AS variable: "65000" or asdot "1.10" (RFC 5396); undefined when unset. Shared with tortie-rr. */
export function parseAsEnv(env: Env, errors: string[]): number | undefined {
  const asv = env.AS?.trim();
  if (!asv) return undefined;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(asv);
  const n = m ? (m[2] !== undefined ? Number(m[1]) * 65536 + Number(m[2]) : Number(m[1])) : NaN;
  if (!m || !Number.isInteger(n) || n < 1 || n > 4294967295 || (m[2] !== undefined && (Number(m[1]) > 65535 || Number(m[2]) > 65535))) {
    errors.push(`AS: "${asv}" is not an AS number (1..4294967295 or asdot)`);
    return undefined;
  }
  return n;
}

/**
 * CALICO_IPV6POOL_*: Calico's IPv6 default pool. Without CALICO_IPV6POOL_CIDR calico-node picks a
 * random ULA /48; the cidr is left empty here and register.ts chooses it (parsing stays pure).
 * IPIP carries only IPv4, so a v6 pool is VXLAN or unencapsulated; natOutgoing is off by default.
 */
function ipv6Pool(env: Env, errors: string[]): DefaultPool {
  const cidr = (env.CALICO_IPV6POOL_CIDR ?? '').trim();
  if (cidr && !cidrOk(cidr, 6)) errors.push(`CALICO_IPV6POOL_CIDR: "${cidr}" is not an IPv6 CIDR`);
  const blockSize = int(env, 'CALICO_IPV6POOL_BLOCK_SIZE', 122, 116, 128, errors);
  if (cidr && blockSize < Number(cidr.split('/')[1])) errors.push(`CALICO_IPV6POOL_BLOCK_SIZE: /${blockSize} is larger than the pool ${cidr}`);
  return { cidr, ipipMode: 'Never', vxlanMode: mode(env, 'CALICO_IPV6POOL_VXLAN', errors), natOutgoing: bool(env, 'CALICO_IPV6POOL_NAT_OUTGOING', false, errors), blockSize };
}

export type ParseResult = { ok: true; config: NodeConfig } | { ok: false; errors: string[] };

export function parseNodeEnv(env: Env, hostname: string): ParseResult {
  const errors: string[] = [];
  const nodename = (env.NODENAME ?? env.HOSTNAME ?? hostname).trim();
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(nodename)) errors.push(`NODENAME: "${nodename}" is not a valid node name (lower-case letters, digits, '-' and '.')`);
  const ip = ipSetting(env, 'IP', errors);
  const ip6 = ipSetting(env, 'IP6', errors);
  const asNumber = parseAsEnv(env, errors);
  const be = (env.CALICO_NETWORKING_BACKEND ?? 'bird').trim().toLowerCase();
  if (be !== 'bird' && be !== 'vxlan' && be !== 'none') errors.push(`CALICO_NETWORKING_BACKEND: "${be}" must be bird, vxlan or none`);
  const backend = be === 'vxlan' || be === 'none' ? be : 'bird';

  let defaultPool: DefaultPool | undefined;
  let defaultPool6: DefaultPool | undefined;
  const noDefaultPools = bool(env, 'NO_DEFAULT_POOLS', false, errors);
  // An IPv6-only node (IP=none, IP6 set) makes no IPv4 pool.
  if (!noDefaultPools && !(ip.kind === 'none' && ip6.kind !== 'none')) {
    const cidr = (env.CALICO_IPV4POOL_CIDR ?? '192.168.0.0/16').trim();
    if (!cidrOk(cidr, 4)) errors.push(`CALICO_IPV4POOL_CIDR: "${cidr}" is not an IPv4 CIDR`);
    let ipipMode = mode(env, 'CALICO_IPV4POOL_IPIP', errors);
    const vxlanMode = mode(env, 'CALICO_IPV4POOL_VXLAN', errors);
    // Calico's default pool is IPIP Always unless told otherwise (and never with the VXLAN backend).
    if (env.CALICO_IPV4POOL_IPIP === undefined && vxlanMode === 'Never' && backend === 'bird') ipipMode = 'Always';
    if (ipipMode !== 'Never' && vxlanMode !== 'Never') errors.push('CALICO_IPV4POOL_IPIP and CALICO_IPV4POOL_VXLAN cannot both be enabled');
    const blockSize = int(env, 'CALICO_IPV4POOL_BLOCK_SIZE', 26, 20, 32, errors);
    const plen = Number(cidr.split('/')[1]);
    if (blockSize < plen) errors.push(`CALICO_IPV4POOL_BLOCK_SIZE: /${blockSize} is larger than the pool ${cidr}`);
    defaultPool = { cidr, ipipMode, vxlanMode, natOutgoing: bool(env, 'CALICO_IPV4POOL_NAT_OUTGOING', true, errors), blockSize };
  }
  checkMtus(env, errors);
  if (!noDefaultPools && ip6.kind !== 'none') defaultPool6 = ipv6Pool(env, errors);
  const felix: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('FELIX_') && v !== undefined) felix[k.slice(6).toUpperCase()] = v;
  const config: NodeConfig = {
    nodename,
    ip,
    ip6,
    ...(asNumber !== undefined ? { asNumber } : {}),
    backend,
    ...(defaultPool ? { defaultPool } : {}),
    ...(defaultPool6 ? { defaultPool6 } : {}),
    felix,
    mtuFile: env.TORTIE_MTU_FILE?.trim() || MTU_FILE,
    healthHost: (felix.HEALTHHOST ?? '127.0.0.1').trim(),
    healthPort: int(env, 'FELIX_HEALTHPORT', 9099, 1, 65535, errors),
    metricsPort: int(env, 'FELIX_PROMETHEUSMETRICSPORT', 9091, 0, 65535, errors),
    logLevel: (felix.LOGSEVERITYSCREEN ?? env.LOG_LEVEL ?? 'info').toLowerCase(),
    bgpPort: int(env, 'BGP_PORT', 179, 0, 65535, errors),
    cniSocket: env.TORTIE_CNI_SOCKET?.trim() ?? '/var/run/tortie/cni.sock',
    gobgpApiHosts: apiHosts(env, errors),
  };
  return errors.length ? { ok: false, errors } : { ok: true, config };
}
