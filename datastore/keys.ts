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
