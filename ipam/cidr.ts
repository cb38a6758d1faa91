// Address arithmetic over bigint so IPv4 and IPv6 share one code path.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

export function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function parseIp(text: string): { family: Family; value: bigint } {
  if (!ipaddr.isValid(text)) throw new Error(`invalid IP address "${text}"`);
  const addr = ipaddr.parse(text);
  const bytes = addr.toByteArray();
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return { family: addr.kind() === 'ipv4' ? 4 : 6, value: v };
}

export function formatIp(family: Family, value: bigint): string {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`invalid CIDR "${text}": missing /prefix`);
  const { family, value } = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d+$/.test(prefixText) || prefix > bits(family)) throw new Error(`invalid CIDR "${text}": bad prefix length`);
  const host = bits(family) - prefix;
  const base = (value >> BigInt(host)) << BigInt(host);
  return { family, base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function contains(c: Cidr, family: Family, value: bigint): boolean {
  return family === c.family && value >= c.base && value < c.base + size(c);
}

/** Number of blocks of length blockPrefix inside a pool. */
export function blockCount(pool: Cidr, blockPrefix: number): bigint {
  return 1n << BigInt(blockPrefix - pool.prefix);
}

/** The n-th block of a pool. */
export function nthBlock(pool: Cidr, blockPrefix: number, n: bigint): Cidr {
  const host = BigInt(bits(pool.family) - blockPrefix);
  return { family: pool.family, base: pool.base + (n << host), prefix: blockPrefix };
}

/** Index of a block within its pool. */
export function blockIndex(pool: Cidr, block: Cidr): bigint {
  return (block.base - pool.base) >> BigInt(bits(pool.family) - block.prefix);
}

/** The block of length blockPrefix that holds an address. */
export function blockOf(family: Family, value: bigint, blockPrefix: number): Cidr {
  const host = BigInt(bits(family) - blockPrefix);
  return { family, base: (value >> host) << host, prefix: blockPrefix };
}
