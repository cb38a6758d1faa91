// Field schemas reused across kinds: names, labels, CIDRs, AS numbers, selectors, ports,
// protocols, durations. Each refuses bad input with a message naming what is wrong.
import { z } from 'zod';
import { parseSelector, SelectorError } from '../selector/index.js';
import { parseCIDR, parseIP, parseNet, type Family } from './net.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((p) => DNS1123_LABEL.test(p) && p.length <= 63);
}

/** Kubernetes qualified name (label keys): optional DNS subdomain prefix + "/" + name. */
export function isQualifiedName(s: string): boolean {
  const slash = s.indexOf('/');
  const name = slash < 0 ? s : s.slice(slash + 1);
  if (slash >= 0 && !isDns1123Subdomain(s.slice(0, slash))) return false;
  return name.length > 0 && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE.test(v);
}

export const labelsSchema = z.record(z.string()).superRefine((labels, ctx) => {
  for (const [k, v] of Object.entries(labels)) {
    if (!isQualifiedName(k)) ctx.addIssue({ code: 'custom', path: [k], message: `invalid label key ${JSON.stringify(k)}` });
    else if (!isLabelValue(v))
      ctx.addIssue({ code: 'custom', path: [k], message: `invalid label value ${JSON.stringify(v)} (≤63 alphanumerics, '-', '_', '.')` });
  }
});

export const annotationsSchema = z.record(z.string());

/** A selector string, parsed so a bad one is refused with its position; kept as written. */
export const selectorSchema = z.string().superRefine((s, ctx) => {
  try {
    parseSelector(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof SelectorError ? e.message : String(e) });
  }
});

export function ipSchema(family?: Family) {
  return z.string().transform((s, ctx) => {
    const ip = parseIP(s);
    if (!ip || (family && ip.family !== family)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid IPv${family ?? '4 or IPv6'} address` });
      return z.NEVER;
    }
    return ip.text;
  });
}

/** A network CIDR whose host bits must be zero; the error says what the canonical form is. */
export const canonicalCidrSchema = z.string().transform((s, ctx) => {
  const c = parseCIDR(s);
  if (!c) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid CIDR (expected e.g. 10.0.0.0/16 or fd00::/48)` });
    return z.NEVER;
  }
  if (c.ip !== c.network.split('/')[0]) {
    ctx.addIssue({ code: 'custom', message: `${s} has host bits set; the canonical form is ${c.network}` });
    return z.NEVER;
  }
  return c.network;
});

/** Address with prefix, host bits allowed (Node spec.bgp.ipv4Address "10.0.0.5/24"). */
export function ipWithPrefixSchema(family: Family) {
  return z.string().transform((s, ctx) => {
    const c = parseCIDR(s);
    if (!c || c.family !== family) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an IPv${family} address in CIDR form (e.g. ${family === 4 ? '10.0.0.5/24' : 'fd00::5/64'})` });
      return z.NEVER;
    }
    return `${c.ip}/${c.prefix}`;
  });
}

/** Rule nets: a CIDR or a bare IP (treated as /32 or /128), normalized to network form. */
export const netSchema = z.string().transform((s, ctx) => {
  const c = parseNet(s);
  if (!c) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid IP network` });
    return z.NEVER;
  }
  return c.network;
});

const AS_MAX = 4294967295;

/** Parses an AS number given as a number, a decimal string or asdot "high.low". */
export function parseASNumber(v: unknown): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+$/.test(v)) n = Number(v);
  else if (typeof v === 'string' && /^\d+\.\d+$/.test(v)) {
    const [hi, lo] = v.split('.').map(Number);
    if (hi > 65535 || lo > 65535) return undefined;
    n = hi * 65536 + lo;
  }
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= AS_MAX ? n : undefined;
}

export const asNumberSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseASNumber(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a valid AS number (1–4294967295, or asdot like "1.10")` });
    return z.NEVER;
  }
  return n;
});

export function portNumber(max = 65535) {
  return z.number().int().min(1, 'port must be 1–65535').max(max, 'port must be 1–65535');
}

/** Go-style duration ("90s", "1m30s", "500ms"), as Calico's metav1.Duration fields take. */
export const durationSchema = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, 'expected a duration like "90s" or "1m30s"');

const DURATION_UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Seconds in a Go-style duration that durationSchema accepted ("1m30s" → 90). */
export function durationSeconds(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNIT_SECONDS[m[2]];
  return total;
}

const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

/** Protocol by name (any case, normalized to Calico's spelling) or number 1–255. */
export const protocolSchema = z.union([z.number(), z.string()]).transform((v, ctx): ProtocolName | number => {
  if (typeof v === 'string' && !/^\d+$/.test(v)) {
    const name = PROTOCOL_NAMES.find((p) => p.toLowerCase() === v.toLowerCase());
    if (name) return name;
  } else {
    const n = Number(v);
    if (Number.isInteger(n) && n >= 1 && n <= 255) return n;
  }
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a protocol (${PROTOCOL_NAMES.join(', ')} or 1–255)` });
  return z.NEVER;
});

/** Numbers for the protocols that have ports, so numeric protocols are judged alike. */
export function protocolNumber(p: ProtocolName | number): number {
  const numbers: Record<ProtocolName, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };
  return typeof p === 'number' ? p : numbers[p];
}

const NAMED_PORT = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Calico's numorstring.Port: a number, "min:max" range, or a named port. Single numbers
 * (including "80" and "80:80") normalize to a number, as Calico marshals them.
 */
export const portSchema = z.union([z.number(), z.string()]).transform((v, ctx): number | string => {
  const bad = (why: string) => {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a valid port: ${why}` });
    return z.NEVER;
  };
  const inRange = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof v === 'number') return inRange(v) ? v : bad('must be 0–65535');
  const range = /^(\d+)(?::(\d+))?$/.exec(v);
  if (range) {
    const lo = Number(range[1]);
    const hi = range[2] === undefined ? lo : Number(range[2]);
    if (!inRange(lo) || !inRange(hi)) return bad('must be 0–65535');
    if (lo > hi) return bad('range start is greater than its end');
    return lo === hi ? lo : `${lo}:${hi}`;
  }
  if (v.length <= 15 && NAMED_PORT.test(v) && /[a-z]/.test(v)) return v;
  return bad('expected a number, a range "min:max" or a port name (≤15 lower-case alphanumerics and "-")');
});

export function isNamedPort(p: number | string): boolean {
  return typeof p === 'string' && !/^\d/.test(p);
}

/** A MAC address in colon form. */
export const macSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'expected a MAC address like 66:d0:16:ab:cd:ef')
  .transform((s) => s.toLowerCase());
