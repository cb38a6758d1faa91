// Prefix keys: the RIB's map key for a prefix ("10.0.78.32/32", "fd00::/64").
import type { Prefix } from '../types.js';

// prefixToString's text, joined: a template result of 13 or more characters ("10.0.78.32/32")
// stays a pair of string pieces in V8 (about 64 bytes more per key kept, e.g. in the frame cache).
export const keyOf = (p: Prefix): string => [p.address, p.length].join('/');

// One pass from the end over the length's digits (a sync walk parses every key it sends).
export const keyToPrefix = (k: string): Prefix => {
  let i = k.length - 1;
  let length = 0;
  let scale = 1;
  for (let c = k.charCodeAt(i); c >= 48 && c <= 57; c = k.charCodeAt(--i)) {
    length += (c - 48) * scale;
    scale *= 10;
  }
  if (k.charCodeAt(i) !== 47 || i === k.length - 1) return slowKeyToPrefix(k);
  const address = k.slice(0, i);
  return { family: address.includes(':') ? 6 : 4, address, length };
};

/** Anything but "address/digits": as Number() and lastIndexOf read it. */
const slowKeyToPrefix = (k: string): Prefix => {
  const i = k.lastIndexOf('/');
  return { family: k.includes(':') ? 6 : 4, address: k.slice(0, i), length: Number(k.slice(i + 1)) };
};
