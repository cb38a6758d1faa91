// Names of the chains and ipsets the policy renderer owns. Calico's scheme: a readable name when it
// fits, otherwise the prefix, "_" and a base64url SHA-224 of the suffix cut to the limit
// (hashutils.GetLengthLimitedID). Readable names never start with "_" after the prefix (policy,
// profile and interface names cannot), so the two forms never collide.
import { createHash } from 'node:crypto';
import { MAX_CHAIN_NAME, MAX_IPSET_NAME } from './types.js';

export const FORWARD_CHAIN = 'cali-FORWARD';
export const FROM_WL_DISPATCH = 'cali-from-wl-dispatch';
export const TO_WL_DISPATCH = 'cali-to-wl-dispatch';

function hash(text: string): string {
  return createHash('sha224').update(text).digest('base64url');
}

/** `prefix + suffix` when it fits in `max`, else `prefix + "_" + hash(suffix)` cut to `max`. */
export function lengthLimitedName(prefix: string, suffix: string, max: number = MAX_CHAIN_NAME): string {
  const full = prefix + suffix;
  if (full.length <= max) return full;
  return `${prefix}_${hash(suffix)}`.slice(0, max);
}

/** Identity of a policy in chain names: "name" for a GlobalNetworkPolicy, "namespace_name" for a
 *  namespaced one ("_" appears in neither a DNS-1123 namespace nor a policy name). */
export function policyId(p: { name: string; namespace?: string }): string {
  return p.namespace === undefined ? p.name : `${p.namespace}_${p.name}`;
}

export type Direction = 'ingress' | 'egress';

/** cali-pi-<policy> (ingress rules) / cali-po-<policy> (egress rules). */
export function policyChainName(p: { name: string; namespace?: string }, dir: Direction): string {
  return lengthLimitedName(dir === 'ingress' ? 'cali-pi-' : 'cali-po-', policyId(p));
}

/** cali-pri-<profile> / cali-pro-<profile>. */
export function profileChainName(profile: string, dir: Direction): string {
  return lengthLimitedName(dir === 'ingress' ? 'cali-pri-' : 'cali-pro-', profile);
}

/** cali-tw-<iface> (to the workload: its ingress) / cali-fw-<iface> (from it: its egress). */
export function endpointChainName(iface: string, dir: Direction): string {
  return lengthLimitedName(dir === 'ingress' ? 'cali-tw-' : 'cali-fw-', iface);
}

/** Kinds of ipset we make, by the letter after "cali40"/"cali60": s = endpoints selected by a
 *  selector (hash:net), n = named port of selected endpoints (hash:ip,port), c = a list of CIDRs
 *  (hash:net: notNets when several, or beside a positive net). */
export type IpsetKind = 's' | 'n' | 'c';

/** "cali40s:" + the id cut so the whole name is 31 characters (Calico's naming). */
export function ipsetName(family: 4 | 6, kind: IpsetKind, id: string): string {
  return `cali${family}0${kind}:${id}`.slice(0, MAX_IPSET_NAME);
}

/** The id of a named-port or CIDR-list set: a hash of what defines it. */
export function contentId(parts: readonly string[]): string {
  return hash(parts.join('\0'));
}
