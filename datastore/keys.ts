// Calico's etcd key layout, so etcdctl users find things where they expect them.

export const RESOURCE_PREFIX = '/calico/resources/v3/projectcalico.org/';
export const IPAM_PREFIX = '/calico/ipam/v2/';

export function resourceKey(plural: string, name: string, namespace?: string): string {
  return namespace ? `${RESOURCE_PREFIX}${plural}/${namespace}/${name}` : `${RESOURCE_PREFIX}${plural}/${name}`;
}

export function resourceListPrefix(plural: string, namespace?: string): string {
  return namespace ? `${RESOURCE_PREFIX}${plural}/${namespace}/` : `${RESOURCE_PREFIX}${plural}/`;
}

/** "10.0.0.0/26" → "10.0.0.0-26", as Calico writes CIDRs into keys. */
export function cidrToKeyPart(cidr: string): string {
  return cidr.replace('/', '-');
}

export function keyPartToCidr(part: string): string {
  const i = part.lastIndexOf('-');
  return `${part.slice(0, i)}/${part.slice(i + 1)}`;
}

export function ipamBlockKey(cidr: string, family: 4 | 6): string {
  return `${IPAM_PREFIX}assignment/ipv${family}/block/${cidrToKeyPart(cidr)}`;
}

export function ipamBlockPrefix(family: 4 | 6): string {
  return `${IPAM_PREFIX}assignment/ipv${family}/block/`;
}

export function blockAffinityKey(host: string, cidr: string, family: 4 | 6): string {
  return `${IPAM_PREFIX}host/${host}/ipv${family}/block/${cidrToKeyPart(cidr)}`;
}

export function hostAffinityPrefix(host?: string): string {
  return host ? `${IPAM_PREFIX}host/${host}/` : `${IPAM_PREFIX}host/`;
}

export function ipamHandleKey(handleId: string): string {
  return `${IPAM_PREFIX}handle/${handleId}`;
}

export const IPAM_HANDLE_PREFIX = `${IPAM_PREFIX}handle/`;
export const IPAM_CONFIG_KEY = `${IPAM_PREFIX}config`;

/** Calico's object name of a block CIDR: '.', ':' and '/' become '-' ("10.0.0.0/26" → "10-0-0-0-26"). */
export function blockName(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

/** Calico's BlockAffinity name: "<node>-<block name>". */
export function affinityName(host: string, cidr: string): string {
  return `${host}-${blockName(cidr)}`;
}

/**
 * The CIDR a block name stands for, or undefined: four decimal octets and a prefix are IPv4;
 * otherwise every '-' but the last is an IPv6 ':' ("fd00---122" → "fd00::/122").
 */
export function blockCidrFromName(name: string): string | undefined {
  const parts = name.split('-');
  if (parts.length < 2) return undefined;
  const prefix = parts[parts.length - 1];
  if (!/^\d{1,3}$/.test(prefix)) return undefined;
  if (parts.length === 5 && parts.slice(0, 4).every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return Number(prefix) <= 32 ? `${parts.slice(0, 4).join('.')}/${prefix}` : undefined;
  }
  const addr = parts.slice(0, -1).join(':');
  if (Number(prefix) > 128 || !/^[0-9a-f:]+$/.test(addr) || !addr.includes('::') && parts.length !== 9) return undefined;
  if ((addr.match(/::/g) ?? []).length > 1 || addr.includes(':::')) return undefined;
  return `${addr}/${prefix}`;
}
