// Calico's IPAM records as stored in etcd (JSON field names kept), with parsers that name the bad field.
import type { Family } from './cidr.js';

export interface AllocationAttribute {
  handle_id: string | null;
  secondary: Record<string, string> | null;
}

export interface AllocationBlock {
  cidr: string;
  /** "host:<node>", or null for a block with no affinity. */
  affinity: string | null;
  strictAffinity?: boolean;
  /** ordinal → index into attributes, null when free. */
  allocations: (number | null)[];
  /** Free ordinals, in the order they will be handed out. */
  unallocated: number[];
  attributes: AllocationAttribute[];
  deleted: boolean;
  /** Bumped on every assignment; the value at assignment time is kept per ordinal. */
  sequenceNumber: number;
  sequenceNumberForAllocation: Record<string, number>;
}

export type AffinityState = 'pending' | 'confirmed' | 'pendingDeletion';

export interface BlockAffinity {
  state: AffinityState;
  deleted: boolean;
}

export interface IpamHandle {
  handleID: string;
  /** block CIDR → number of addresses this handle holds in it. */
  block: Record<string, number>;
  deleted: boolean;
}

export interface IpamConfig {
  strictAffinity: boolean;
  autoAllocateBlocks: boolean;
  /** 0 means unlimited. */
  maxBlocksPerHost: number;
}

export const DEFAULT_IPAM_CONFIG: IpamConfig = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };

export class IpamDataError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'IpamDataError';
  }
}

/** `value` is the stored spec: an object, or (for a record the store could not decode) its raw text. */
function parseObject(key: string, value: unknown): Record<string, unknown> {
  let v: unknown = value;
  if (typeof value === 'string') {
    try {
      v = JSON.parse(value);
    } catch (e) {
      throw new IpamDataError(key, `not JSON (${(e as Error).message})`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IpamDataError(key, 'not a JSON object');
  return v as Record<string, unknown>;
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

export function parseBlock(key: string, value: unknown): AllocationBlock {
  const o = parseObject(key, value);
  if (typeof o.cidr !== 'string') throw new IpamDataError(key, 'field "cidr" must be a string');
  if (!Array.isArray(o.allocations) || !o.allocations.every((x) => x === null || Number.isInteger(x)))
    throw new IpamDataError(key, 'field "allocations" must be an array of integers or null');
  if (!isIntArray(o.unallocated)) throw new IpamDataError(key, 'field "unallocated" must be an array of integers');
  const attrs = o.attributes ?? [];
  if (!Array.isArray(attrs)) throw new IpamDataError(key, 'field "attributes" must be an array');
  const seqMap = o.sequenceNumberForAllocation ?? {};
  if (typeof seqMap !== 'object' || seqMap === null) throw new IpamDataError(key, 'field "sequenceNumberForAllocation" must be an object');
  return {
    cidr: o.cidr,
    affinity: typeof o.affinity === 'string' ? o.affinity : null,
    strictAffinity: o.strictAffinity === true,
    allocations: o.allocations as (number | null)[],
    unallocated: o.unallocated,
    attributes: (attrs as Record<string, unknown>[]).map((a) => ({
      handle_id: typeof a?.handle_id === 'string' ? a.handle_id : null,
      secondary: a?.secondary && typeof a.secondary === 'object' ? (a.secondary as Record<string, string>) : null,
    })),
    deleted: o.deleted === true,
    sequenceNumber: typeof o.sequenceNumber === 'number' ? o.sequenceNumber : 0,
    sequenceNumberForAllocation: seqMap as Record<string, number>,
  };
}

export function parseAffinity(key: string, value: unknown): BlockAffinity {
  const o = parseObject(key, value);
  const state = o.state ?? 'confirmed'; // Calico v1 affinities had no state: they were confirmed.
  if (state !== 'pending' && state !== 'confirmed' && state !== 'pendingDeletion')
    throw new IpamDataError(key, `field "state" must be pending|confirmed|pendingDeletion, got ${JSON.stringify(state)}`);
  return { state, deleted: o.deleted === true };
}

export function parseHandle(key: string, value: unknown): IpamHandle {
  const o = parseObject(key, value);
  if (typeof o.handleID !== 'string') throw new IpamDataError(key, 'field "handleID" must be a string');
  const block = o.block ?? {};
  if (typeof block !== 'object' || block === null || !Object.values(block).every((n) => Number.isInteger(n)))
    throw new IpamDataError(key, 'field "block" must map CIDR → count');
  return { handleID: o.handleID, block: block as Record<string, number>, deleted: o.deleted === true };
}

export function parseIpamConfig(key: string, value: unknown): IpamConfig {
  const o = parseObject(key, value);
  // The v3 resource nests the fields under spec; the v2 key holds them at top level.
  const s = (typeof o.spec === 'object' && o.spec !== null ? o.spec : o) as Record<string, unknown>;
  const max = s.maxBlocksPerHost ?? 0;
  if (!Number.isInteger(max) || (max as number) < 0) throw new IpamDataError(key, 'field "maxBlocksPerHost" must be a non-negative integer');
  return {
    strictAffinity: s.strictAffinity === true,
    autoAllocateBlocks: s.autoAllocateBlocks !== false,
    maxBlocksPerHost: max as number,
  };
}

export function hostAffinity(host: string): string {
  return `host:${host}`;
}

/** The node named by a block's affinity, if it is a host affinity. */
export function affinityHost(block: AllocationBlock): string | undefined {
  return block.affinity?.startsWith('host:') ? block.affinity.slice(5) : undefined;
}

export function familyOfCidr(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}
