// A path as the Adj-RIB-In and the Loc-RIB hold it.
import type { PathInfo } from './bestpath.js';

/**
 * One shared, immutable object for every prefix with the same source, attributes, next hop and
 * family: the prefix table then holds one reference per route.
 */
export interface Path extends PathInfo {
  readonly family: 4 | 6;
}
