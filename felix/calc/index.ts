export * from './types.js';
export { calculate } from './calc.js';
export { LearnedRoutes } from './bgp-routes.js';
export { parseCidr, canonicalCidr, addrOf } from './cidr.js';
