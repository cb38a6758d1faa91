// Pure operations on one AllocationBlock. Every function returns a new block; nothing here does I/O.
import { type Cidr, type Family, formatCidr, formatIp, parseCidr, size } from './cidr.js';
import type { AllocationAttribute, AllocationBlock } from './model.js';

export function newBlock(cidr: Cidr, affinity: string | null): AllocationBlock {
  const n = Number(size(cidr));
  return {
    cidr: formatCidr(cidr),
    affinity,
    strictAffinity: false,
    allocations: new Array<number | null>(n).fill(null),
    unallocated: Array.from({ length: n }, (_, i) => i),
    attributes: [],
    deleted: false,
    sequenceNumber: 0,
    sequenceNumberForAllocation: {},
  };
}

function clone(b: AllocationBlock): AllocationBlock {
  return {
    ...b,
    allocations: [...b.allocations],
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({ ...a })),
    sequenceNumberForAllocation: { ...b.sequenceNumberForAllocation },
  };
}

export function freeCount(b: AllocationBlock): number {
  return b.unallocated.length;
}

export function inUseCount(b: AllocationBlock): number {
  return b.allocations.filter((a) => a !== null).length;
}

export function isEmpty(b: AllocationBlock): boolean {
  return inUseCount(b) === 0;
}

export function ordinalToIp(b: AllocationBlock, ordinal: number): string {
  const c = parseCidr(b.cidr);
  return formatIp(c.family, c.base + BigInt(ordinal));
}

export function ipToOrdinal(b: AllocationBlock, family: Family, value: bigint): number | undefined {
  const c = parseCidr(b.cidr);
  if (c.family !== family || value < c.base || value >= c.base + size(c)) return undefined;
  return Number(value - c.base);
}

function attrIndex(b: AllocationBlock, attr: AllocationAttribute): number {
  const want = JSON.stringify(attr);
  const i = b.attributes.findIndex((a) => JSON.stringify(a) === want);
  if (i >= 0) return i;
  b.attributes.push(attr);
  return b.attributes.length - 1;
}

export interface Assignment {
  ordinal: number;
  sequenceNumber: number;
}

/** Takes up to num free ordinals (in unallocated order) for one handle, never one in `skip` (reserved). */
export function assignFromBlock(
  block: AllocationBlock,
  num: number,
  attr: AllocationAttribute,
  skip: ReadonlySet<number> = new Set(),
): { block: AllocationBlock; assigned: Assignment[] } {
  const b = clone(block);
  const take = b.unallocated.filter((o) => !skip.has(o)).slice(0, num);
  if (take.length === 0) return { block, assigned: [] };
  const taken = new Set(take);
  b.unallocated = b.unallocated.filter((o) => !taken.has(o));
  const idx = attrIndex(b, attr);
  const assigned: Assignment[] = [];
  for (const ord of take) {
    b.allocations[ord] = idx;
    const seq = b.sequenceNumber++;
    b.sequenceNumberForAllocation[String(ord)] = seq;
    assigned.push({ ordinal: ord, sequenceNumber: seq });
  }
  return { block: b, assigned };
}

/** Takes one specific ordinal; undefined when it is already in use. */
export function assignOrdinal(
  block: AllocationBlock,
  ordinal: number,
  attr: AllocationAttribute,
): { block: AllocationBlock; assigned: Assignment } | undefined {
  if (ordinal < 0 || ordinal >= block.allocations.length || block.allocations[ordinal] !== null) return undefined;
  const b = clone(block);
  b.unallocated = b.unallocated.filter((o) => o !== ordinal);
  b.allocations[ordinal] = attrIndex(b, attr);
  const seq = b.sequenceNumber++;
  b.sequenceNumberForAllocation[String(ordinal)] = seq;
  return { block: b, assigned: { ordinal, sequenceNumber: seq } };
}

export function handleOf(block: AllocationBlock, ordinal: number): string | null {
  const idx = block.allocations[ordinal];
  if (idx === null || idx === undefined) return null;
  return block.attributes[idx]?.handle_id ?? null;
}

export interface ReleaseRequest {
  ordinal: number;
  /** When given, the release only happens if the ordinal still carries this sequence number. */
  sequenceNumber?: number;
}

export interface ReleaseOutcome {
  block: AllocationBlock;
  /** Released ordinals with the handle each was held by. */
  released: { ordinal: number; handle: string | null }[];
  /** Ordinals that were already free. */
  notAllocated: number[];
  /** Ordinals whose sequence number did not match: re-allocated since the caller saw them. */
  stale: number[];
}

export function releaseFromBlock(block: AllocationBlock, reqs: ReleaseRequest[]): ReleaseOutcome {
  const b = clone(block);
  const out: ReleaseOutcome = { block: b, released: [], notAllocated: [], stale: [] };
  for (const r of reqs) {
    const idx = b.allocations[r.ordinal];
    if (idx === null || idx === undefined) {
      out.notAllocated.push(r.ordinal);
      continue;
    }
    if (r.sequenceNumber !== undefined && b.sequenceNumberForAllocation[String(r.ordinal)] !== r.sequenceNumber) {
      out.stale.push(r.ordinal);
      continue;
    }
    out.released.push({ ordinal: r.ordinal, handle: b.attributes[idx]?.handle_id ?? null });
    b.allocations[r.ordinal] = null;
    b.unallocated.push(r.ordinal);
    delete b.sequenceNumberForAllocation[String(r.ordinal)];
  }
  compactAttributes(b);
  return out;
}

/** Ordinals held by a handle. */
export function ordinalsOfHandle(block: AllocationBlock, handle: string): number[] {
  const out: number[] = [];
  block.allocations.forEach((idx, ord) => {
    if (idx !== null && block.attributes[idx]?.handle_id === handle) out.push(ord);
  });
  return out;
}

/** Drops attributes no ordinal refers to and renumbers the rest (Calico does the same). */
function compactAttributes(b: AllocationBlock): void {
  const used = new Set(b.allocations.filter((x): x is number => x !== null));
  const remap = new Map<number, number>();
  const kept: AllocationAttribute[] = [];
  b.attributes.forEach((a, i) => {
    if (used.has(i)) {
      remap.set(i, kept.length);
      kept.push(a);
    }
  });
  b.attributes = kept;
  b.allocations = b.allocations.map((x) => (x === null ? null : (remap.get(x) ?? null)));
}
