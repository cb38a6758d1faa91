// The MTUs as Calico's felix computes them (pure). The host MTU is the smallest MTU of the host's
// interfaces whose names match mtuIfacePattern (1460, the smallest common cloud MTU, when none
// does); each tunnel's MTU is the host MTU less its header (IPIP 20, VXLAN 50, VXLAN over IPv6 70)
// unless ipipMTU / vxlanMTU / vxlanMTUV6 set it; the pod (veth) MTU is the smallest MTU of the
// encapsulations in use, or the host MTU when none is. Felix writes the pod MTU to
// /var/lib/calico/mtu, where the CNI plugin reads it when its network config has no `mtu`.
import type { FelixConfigurationSpec } from '../datastore/model/felix.js';

/** Calico's default mtuIfacePattern (felix config_params.go): predictable names en/wl/ww/sl/ib + P/o/p/s/x, and eth*, wlan*, wwan*. */
export const DEFAULT_MTU_IFACE_PATTERN = '^((en|wl|ww|sl|ib)[Popsx].*|(eth|wlan|wwan).*)';
/** The host MTU assumed when no interface matches the pattern. */
export const FALLBACK_HOST_MTU = 1460;
export const ENCAP_OVERHEAD = { ipip: 20, vxlan: 50, vxlanV6: 70 } as const;
/** Where felix leaves the pod MTU for the CNI plugin. */
export const MTU_FILE = '/var/lib/calico/mtu';

export type Encapsulation = keyof typeof ENCAP_OVERHEAD;

export interface HostLink {
  name: string;
  mtu: number;
}

/** The smallest MTU among the links the pattern matches; `from` names the link (absent: fallback). */
export function hostMtu(links: readonly HostLink[], pattern: RegExp): { mtu: number; from?: string } {
  let best: HostLink | undefined;
  for (const l of links) if (pattern.test(l.name) && l.mtu > 0 && (!best || l.mtu < best.mtu)) best = l;
  return best ? { mtu: best.mtu, from: best.name } : { mtu: FALLBACK_HOST_MTU };
}

/** Configured tunnel MTUs; 0 or absent means "host MTU less the header". */
export interface MtuSettings {
  mtuIfacePattern: string;
  ipipMTU: number;
  vxlanMTU: number;
  vxlanMTUV6: number;
}

export interface Mtus {
  host: number;
  ipip: number;
  vxlan: number;
  vxlanV6: number;
  /** The veth MTU for pods: what /var/lib/calico/mtu holds. */
  pod: number;
  warnings: string[];
}

/** Calico's determinePodMTU over ConfigureDefaultMTUs. */
export function computeMtus(host: number, settings: Omit<MtuSettings, 'mtuIfacePattern'>, inUse: ReadonlySet<Encapsulation>): Mtus {
  const configured: Record<Encapsulation, number> = { ipip: settings.ipipMTU, vxlan: settings.vxlanMTU, vxlanV6: settings.vxlanMTUV6 };
  const mtuOf = (e: Encapsulation): number => configured[e] || host - ENCAP_OVERHEAD[e];
  const out: Mtus = { host, ipip: mtuOf('ipip'), vxlan: mtuOf('vxlan'), vxlanV6: mtuOf('vxlanV6'), pod: host, warnings: [] };
  const used = (Object.keys(ENCAP_OVERHEAD) as Encapsulation[]).filter((e) => inUse.has(e));
  if (used.length > 0) out.pod = Math.min(...used.map(mtuOf));
  for (const e of used) {
    if (configured[e] > host) out.warnings.push(`the configured ${e} MTU ${configured[e]} is larger than the host interfaces' MTU ${host}: packets that size will be dropped or fragmented`);
  }
  return out;
}

/** What the calculation graph takes of the MTUs: one per tunnel device (tunl0, vxlan.calico, vxlan-v6.calico). */
export function tunnelMtuInput(m: Pick<Mtus, 'ipip' | 'vxlan' | 'vxlanV6'>): { ipipMtu: number; vxlanMtu: number; vxlanMtuV6: number } {
  return { ipipMtu: m.ipip, vxlanMtu: m.vxlan, vxlanMtuV6: m.vxlanV6 };
}

const SETTINGS = [
  { field: 'ipipMTU', env: 'IPINIPMTU' },
  { field: 'vxlanMTU', env: 'VXLANMTU' },
  { field: 'vxlanMTUV6', env: 'VXLANMTUV6' },
] as const;

/**
 * The MTU settings by felix's precedence: FELIX_* environment, then FelixConfiguration
 * node.<hostname>, then "default". A bad value is reported and its default used instead.
 */
export function mtuSettings(
  felixEnv: Readonly<Record<string, string>>,
  configs: readonly { name: string; spec: Partial<FelixConfigurationSpec> }[],
  hostname: string,
): { settings: MtuSettings; errors: string[] } {
  const errors: string[] = [];
  const fromConfig = <K extends 'mtuIfacePattern' | 'ipipMTU' | 'vxlanMTU' | 'vxlanMTUV6'>(field: K): { value: FelixConfigurationSpec[K]; where: string } | undefined => {
    for (const name of [`node.${hostname}`, 'default']) {
      const value = configs.find((c) => c.name === name)?.spec[field];
      if (value !== undefined) return { value, where: `FelixConfiguration ${name} spec.${field}` };
    }
    return undefined;
  };
  const settings: MtuSettings = { mtuIfacePattern: DEFAULT_MTU_IFACE_PATTERN, ipipMTU: 0, vxlanMTU: 0, vxlanMTUV6: 0 };
  for (const { field, env } of SETTINGS) {
    const text = felixEnv[env];
    const c = text === undefined ? fromConfig(field) : { value: Number(text.trim()), where: `FELIX_${env}` };
    if (!c) continue;
    if (Number.isInteger(c.value) && (c.value === 0 || ((c.value ?? 0) >= 68 && (c.value ?? 0) <= 65535))) settings[field] = c.value ?? 0;
    else errors.push(`${c.where}: ${JSON.stringify(text ?? c.value)} is not an MTU (0 for automatic, or 68–65535); using the automatic value`);
  }
  const p = felixEnv.MTUIFACEPATTERN !== undefined ? { value: felixEnv.MTUIFACEPATTERN, where: 'FELIX_MTUIFACEPATTERN' } : fromConfig('mtuIfacePattern');
  if (p?.value) {
    try {
      new RegExp(p.value);
      settings.mtuIfacePattern = p.value;
    } catch (e) {
      errors.push(`${p.where}: ${JSON.stringify(p.value)} is not a regular expression (${(e as Error).message}); using Calico's default ${DEFAULT_MTU_IFACE_PATTERN}`);
    }
  }
  return { settings, errors };
}

/** Calico's encapsulation calculator: an encapsulation is in use when any pool asks for it. */
export function encapsulationsInUse(pools: readonly { cidr: string; ipipMode: string; vxlanMode: string }[]): Set<Encapsulation> {
  const out = new Set<Encapsulation>();
  for (const p of pools) {
    const v6 = p.cidr.includes(':');
    if (!v6 && p.ipipMode !== 'Never') out.add('ipip');
    if (p.vxlanMode !== 'Never') out.add(v6 ? 'vxlanV6' : 'vxlan');
  }
  return out;
}
