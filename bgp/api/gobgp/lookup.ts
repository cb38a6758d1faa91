// ListPath's prefix filter (TableLookupPrefix), as GoBGP applies it: EXACT matches the prefix
// itself, or for a bare address the longest prefix that contains it; LONGER the prefix and every
// more specific one; SHORTER the prefix and every less specific one. Pure.
import ipaddr from 'ipaddr.js';
import type { Prefix } from '../../types.js';
import { InvalidArgument, parsePrefix } from './convert.js';

export interface LookupPrefix {
  prefix?: string;
  type?: string;
}

const contains = (outer: Prefix, inner: Prefix): boolean =>
  outer.family === inner.family && outer.length <= inner.length && ipaddr.parse(inner.address).match(ipaddr.parse(outer.address), outer.length);

/** A predicate over prefixes; with no lookups every prefix matches. Longest-match of a bare address needs the candidates, so it works on a list. */
export function lookupFilter(lookups: readonly LookupPrefix[], family: 4 | 6): (p: Prefix) => boolean {
  if (!lookups.length) return () => true;
  const tests = lookups.map((l) => {
    const text = String(l.prefix ?? '');
    const type = String(l.type ?? 'EXACT');
    const bare = !text.includes('/');
    const [addr, len] = bare ? [text, family === 4 ? 32 : 128] : [text.slice(0, text.lastIndexOf('/')), Number(text.slice(text.lastIndexOf('/') + 1))];
    if (!ipaddr.isValid(addr)) throw new InvalidArgument(`prefixes: "${text}" is not an address or prefix`);
    const host = bare ? { family: (ipaddr.parse(addr).kind() === 'ipv4' ? 4 : 6) as 4 | 6, address: ipaddr.parse(addr).toString(), length: len } : parsePrefix(addr, len, 'prefixes');
    if (host.family !== family) throw new InvalidArgument(`prefixes: ${text} is not of the requested family`);
    if (type === 'LONGER') return (p: Prefix) => contains(host, p);
    if (type === 'SHORTER') return (p: Prefix) => contains(p, host);
    if (bare) return (p: Prefix) => contains(p, host);
    return (p: Prefix) => p.address === host.address && p.length === host.length;
  });
  return (p) => tests.some((t) => t(p));
}
