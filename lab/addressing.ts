// The lab's fixed address plan: segment k is 10.0.k.0/24 with the router at .1, etcd at 10.0.0.2 (…6, etcd.ts),
// hosts from .11; the default pool is 10.65.0.0/16 with node i owning the /26 at 10.65.i.0.
// IPv6 (`up --ipv6` / `--dual-stack`) mirrors it in ULA space: segment k is fd00:0:0:k::/64 with the
// router at ::1 and hosts from ::11; the IPv6 pool is fd65::/48 (blocks chosen by IPAM).
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export const POOL_CIDR = '10.65.0.0/16';
export const POOL6_CIDR = 'fd65::/48';

/** In the kernel's (RFC 5952) spelling, so the plan reads as `ip` and the datastore show it: fd00::11. */
const v6 = (a: string): string => ipaddr.parse(a).toString();

export function segmentCidr6(k: number): string {
  return `${v6(`fd00:0:0:${k}::`)}/64`;
}

export function routerIp6(k: number): string {
  return v6(`fd00:0:0:${k}::1`);
}

export function hostIp6(index: number, subnet: number): string {
  return `${v6(`fd00:0:0:${subnet}::${10 + index}`)}/64`;
}

export function segmentCidr(k: number): string {
  return `10.0.${k}.0/24`;
}

export function routerIp(k: number): string {
  return `10.0.${k}.1`;
}

export function hostIp(index: number, subnet: number): string {
  return `10.0.${subnet}.${10 + index}/24`;
}

export function nodeBlock(index: number): string {
  return `10.65.${index}.0/26`;
}

/** Host index i (1-based) of the node's block, k-th pod address (tunnel address takes .0). */
export function podIp(block: string, used: ReadonlySet<string>): string | undefined {
  const [a, b, c] = block.split('.');
  for (let d = 1; d < 63; d++) {
    const ip = `${a}.${b}.${c}.${d}`;
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** Calico-style host-side interface name: "cali" + 11 hex chars of a hash of the workload id. */
export function caliName(workloadId: string): string {
  return `cali${createHash('sha1').update(workloadId).digest('hex').slice(0, 11)}`;
}

/** Deterministic locally administered MAC for a node's VTEP. */
export function vtepMac(node: string): string {
  const h = createHash('sha1').update(`vtep:${node}`).digest();
  const bytes = [0x66, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
