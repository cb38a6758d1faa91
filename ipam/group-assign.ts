// Group commit for a burst of new pods on one host. ADDs that queued behind one block write share
// the next one: each pod's handle is still created first (its own write, as one ADD alone does),
// then all of their addresses go into the host's affine block in ONE compare-and-swap. A burst of
// k ADDs costs k handle creates + 1 block write instead of k + k. Only the common case is grouped —
// new handles, one family, the default pools, as many as the roomiest cached affine block holds;
// anything else, and any member a step fails for, is answered "alone" and takes the one-at-a-time path,
// which is also where every error is reported. An address goes into the block only for a member
// whose handle already counts it (the order one ADD alone keeps), and when the block write loses a
// race every count is taken back, so nothing is handed out twice or left half-done.
import type { ReadOptions, Store, StoredObject } from '../datastore/store.js';
import type { AssignArgs, AssignedIp } from './assign-args.js';
import { assignFromBlock, ordinalToIp, type Assignment } from './block.js';
import { contains, parseCidr, type Family } from './cidr.js';
import { hostAffinity, type AllocationAttribute, type AllocationBlock } from './model.js';
import { poolsNeedNodeLabels, selectPools, type Pool } from './pools.js';
import { blockValue, isCasMiss, type StoredBlock } from './records.js';
import type { Reservations } from './reservations.js';

/** A member's addresses, or 'alone': not grouped, nothing written for it — assign it by itself. */
export type GroupOutcome = AssignedIp[] | 'alone';

/** What the group commit needs of IpamClient (its cached reads, affine-block cache and handle counting). */
export interface GroupAssignClient {
  readonly store: Store;
  listPools(opts?: ReadOptions): Promise<Pool[]>;
  reservations(opts?: ReadOptions): Promise<Reservations>;
  nodeLabels(host: string, opts?: ReadOptions): Promise<Record<string, string>>;
  /** The host's affine blocks as this client last wrote them (kept up to date by the caller's writes). */
  affineBlocks(host: string, family: Family): Map<string, StoredBlock>;
  /** Counts addresses of a block on a handle it was told is new (throws IpamError HandleExists if not). */
  countOnNewHandle(handleId: string, cidr: string, n: number): Promise<void>;
  /** Takes a count back (the handle is deleted when it counts nothing). */
  adjustHandle(handleId: string, cidr: string, delta: number): Promise<void>;
}

const CACHED: ReadOptions = { cached: true };

function familyOfMember(m: AssignArgs): Family | undefined {
  const n4 = m.num4 ?? 0;
  const n6 = m.num6 ?? 0;
  if (n4 > 0 && n6 === 0) return 4;
  if (n6 > 0 && n4 === 0) return 6;
  return undefined; // dual stack (two block writes, a partial grant to undo) or nothing: alone
}

function countOf(m: AssignArgs, family: Family): number {
  return (family === 4 ? m.num4 : m.num6) ?? 0;
}

/** A member can join a group: default pools and use, one family. */
function groupable(m: AssignArgs, host: string): Family | undefined {
  if (m.hostname !== host || (m.use ?? 'Workload') !== 'Workload') return undefined;
  if ((m.ipv4Pools?.length ?? 0) > 0 || (m.ipv6Pools?.length ?? 0) > 0) return undefined;
  return familyOfMember(m);
}

/** Free, unreserved addresses of a block. */
function roomIn(b: StoredBlock, reserved: Reservations): number {
  const skip = reserved.reservedOrdinals(b.block);
  let free = 0;
  for (const o of b.block.unallocated) if (!skip.has(o)) free++;
  return free;
}

/** The host's cached affine block in the pools with the most room. */
function roomiestBlock(host: string, cache: Map<string, StoredBlock>, pools: Pool[], reserved: Reservations): { b: StoredBlock; room: number } | undefined {
  let best: { b: StoredBlock; room: number } | undefined;
  for (const [cidr, b] of cache) {
    if (b.block.affinity !== hostAffinity(host)) continue;
    const c = parseCidr(cidr);
    if (!pools.some((p) => contains(p.cidr, c.family, c.base) && c.prefix === p.blockSize)) continue;
    const room = roomIn(b, reserved);
    if (room > (best?.room ?? 0)) best = { b, room };
  }
  return best;
}

/**
 * Assigns each member's addresses, grouping those that can share one block write; the outcome at
 * index i is member i's addresses or 'alone'. Errors are not thrown: a member that meets one is
 * 'alone', and the one-at-a-time path meets (and reports) it again.
 */
export async function assignGroup(c: GroupAssignClient, members: AssignArgs[]): Promise<GroupOutcome[]> {
  const out: GroupOutcome[] = members.map(() => 'alone');
  if (members.length === 0) return out;
  const host = members[0].hostname;
  try {
    const [pools, reserved] = await Promise.all([c.listPools(CACHED), c.reservations(CACHED)]);
    const labels = poolsNeedNodeLabels(pools) ? await c.nodeLabels(host, CACHED) : {};
    for (const family of [4, 6] as const) {
      const candidates = selectPools(pools, family, labels, 'Workload');
      const best = roomiestBlock(host, c.affineBlocks(host, family), candidates, reserved);
      if (!best) continue;
      // Members in order while the block has room; the rest go alone (one of them claims the next block).
      const idx: number[] = [];
      let need = 0;
      for (const [i, m] of members.entries()) {
        if (groupable(m, host) !== family || need + countOf(m, family) > best.room) continue;
        idx.push(i);
        need += countOf(m, family);
      }
      if (idx.length === 0) continue;
      const got = await commitToBlock(c, best.b, idx.map((i) => members[i]), family, reserved);
      got.forEach((g, k) => (out[idx[k]] = g));
    }
  } catch {
    // A configuration read failed: everyone alone, nothing was written.
  }
  return out;
}

/** Handles first (each member's own), then one CAS of the block holding every member whose handle was counted. */
async function commitToBlock(c: GroupAssignClient, b: StoredBlock, members: AssignArgs[], family: Family, reserved: Reservations): Promise<GroupOutcome[]> {
  const cidr = b.block.cidr;
  // A member whose handle exists already (a retried ADD: its answer is what the handle holds) or
  // could not be counted is left out of the block and goes alone.
  const counted = await Promise.all(members.map((m) => c.countOnNewHandle(m.handleId, cidr, countOf(m, family)).then(() => true, () => false)));
  if (!counted.some(Boolean)) return members.map(() => 'alone');
  let block: AllocationBlock = b.block;
  const skip = reserved.reservedOrdinals(b.block);
  const assigned: (Assignment[] | undefined)[] = members.map((m, i) => {
    if (!counted[i]) return undefined;
    const attr: AllocationAttribute = { handle_id: m.handleId, secondary: m.attrs ?? null };
    const r = assignFromBlock(block, countOf(m, family), attr, skip);
    block = r.block;
    return r.assigned;
  });
  const cache = c.affineBlocks(members[0].hostname, family);
  let written: StoredObject | undefined;
  try {
    written = await c.store.update(blockValue(block), b.obj.revision);
  } catch (e) {
    cache.delete(cidr);
    // The block moved meanwhile (a borrower, another client): nothing was written, the counts are
    // taken back. Any other failure may have written it after all: the counts stay, and each
    // member's own path asks its handle what it holds (as a retried ADD alone does).
    if (isCasMiss(e)) await Promise.all(members.map((m, i) => (counted[i] ? c.adjustHandle(m.handleId, cidr, -countOf(m, family)).catch(() => undefined) : undefined)));
    return members.map(() => 'alone');
  }
  cache.set(cidr, { obj: written, block });
  return assigned.map((a) =>
    a ? a.map((x) => ({ ip: ordinalToIp(block, x.ordinal), family, block: cidr, ordinal: x.ordinal, sequenceNumber: x.sequenceNumber })) : 'alone',
  );
}
