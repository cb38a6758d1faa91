// The projectcalico.org/v3 resource model: kinds, schemas, validation, conversions.
export * from './resource.js';
export * from './kinds.js';
export { validateV3, checkPoolOverlap, type PoolOverlap, type ValidationResult } from './validate.js';
export { validateResource } from './convert.js';
export { parsePeerIP, isCommunity, DEFAULT_AS_NUMBER } from './bgp.js';
export { defaultPolicyTypes, type Rule, type EntityRule, type PolicyType } from './policy.js';
export { parseASNumber, isDns1123Subdomain, isDns1123Label } from './fields.js';
export { parseCIDR, parseIP, cidrsOverlap, type ParsedCIDR } from './net.js';
