// Prefix keys: the RIB's map key for a prefix ("10.0.78.32/32", "fd00::/64").
import type { Prefix } from '../types.js';

// prefixToString's text, joined: a template result of 13 or more characters ("10.0.78.32/32")
// stays a pair of string pieces in V8 (about 64 bytes more per key kept, e.g. in the frame cache).
export const keyOf = (p: Prefix): string => [p.address, p.length].join('/');

export const keyToPrefix = (k: string): Prefix => {
  const i = k.lastIndexOf('/');
  return { family: k.includes(':') ? 6 : 4, address: k.slice(0, i), length: Number(k.slice(i + 1)) };
};
