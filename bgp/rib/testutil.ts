// Builders for RIB tests.
import type { PathAttributes } from '../types.js';
import { AttrTable } from './attrs.js';
import type { Path } from './bestpath.js';
import { LOCAL, type RibPeer } from './peer.js';

export const LOCAL_AS = 64512;

export function peer(address: string, o: Partial<RibPeer> = {}): RibPeer {
  const asn = o.asn ?? LOCAL_AS;
  return { address, routerId: o.routerId ?? address, asn, ebgp: o.ebgp ?? asn !== LOCAL_AS, rrClient: o.rrClient ?? false };
}

export function attrs(o: Partial<PathAttributes> = {}): PathAttributes {
  return { origin: 0, asPath: [], ...o };
}

const table = new AttrTable();
export function path(src: RibPeer | typeof LOCAL, a: Partial<PathAttributes> = {}, nextHop = src === LOCAL ? '0.0.0.0' : src.address): Path {
  return { src, a: table.intern(attrs(a), nextHop) };
}

export const seq = (...asns: number[]) => ({ type: 2 as const, asns });
export const set = (...asns: number[]) => ({ type: 1 as const, asns });
export const confed = (...asns: number[]) => ({ type: 3 as const, asns });
