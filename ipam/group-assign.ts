// Group commit for a burst of new pods on one host. ADDs that queued behind one block write share
// the next one: each pod's handle is still created first (its own write, as one ADD alone does),
// then all of their addresses go into the host's affine block in ONE compare-and-swap. A burst of
// k ADDs costs k handle creates + 1 block write per family instead of k + k. Only the common case
// is grouped — new handles, the default pools, as many as the roomiest cached affine block holds;
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

/**
 * A member's addresses, or 'alone': not grouped — assign it by itself. Its handle may still hold
 * something when a write's outcome was unknown (or a give-back failed): the one-at-a-time path asks
 * the handle first and starts over from what it finds, as for a retried ADD.
 */
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
  /** Adds to a handle's count for a block, or takes it back (the handle is deleted when it counts nothing). */
  adjustHandle(handleId: string, cidr: string, delta: number): Promise<void>;
  /** Releases addresses (from their blocks, then their handles' counts). */
  releaseIps(specs: { ip: string; sequenceNumber?: number }[]): Promise<unknown>;
}

const CACHED: ReadOptions = { cached: true };

function countOf(m: AssignArgs, family: Family): number {
  return (family === 4 ? m.num4 : m.num6) ?? 0;
}

/** A member can join a group: this host, default pools and use, at least one address asked for. */
function groupable(m: AssignArgs, host: string): boolean {
  if (m.hostname !== host || (m.use ?? 'Workload') !== 'Workload') return false;
  if ((m.ipv4Pools?.length ?? 0) > 0 || (m.ipv6Pools?.length ?? 0) > 0) return false;
  return countOf(m, 4) + countOf(m, 6) > 0;
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
 * Assigns each member's addresses, grouping those that can share one block write per family (IPv4
 * first, then IPv6); the outcome at index i is member i's addresses or 'alone'. A dual-stack member that
 * got its IPv4 but not its IPv6 in the group has the IPv4 released again before it goes alone.
 * Errors are not thrown: a member that meets one is 'alone', and the one-at-a-time path meets (and
 * reports) it again.
 */
export async function assignGroup(c: GroupAssignClient, members: AssignArgs[]): Promise<GroupOutcome[]> {
  const got: AssignedIp[][] = members.map(() => []);
  /** Members still in the running: every family asked for so far was granted in the group. */
  const inGroup = new Set(members.flatMap((m, i) => (groupable(m, members[0].hostname) ? [i] : [])));
  if (inGroup.size > 0) {
    const host = members[0].hostname;
    try {
      const [pools, reserved] = await Promise.all([c.listPools(CACHED), c.reservations(CACHED)]);
      const labels = poolsNeedNodeLabels(pools) ? await c.nodeLabels(host, CACHED) : {};
      const roomiest = (family: Family): { b: StoredBlock; room: number } | undefined =>
        roomiestBlock(host, c.affineBlocks(host, family), selectPools(pools, family, labels, 'Workload'), reserved);
      const bests = { 4: roomiest(4), 6: roomiest(6) };
      // A family without a cached block (a cold host, no pool of it): whoever asks for it goes alone
      // before anything is written, so no dual-stack member is given an IPv4 only to give it back.
      for (const i of [...inGroup]) if ((countOf(members[i], 4) > 0 && !bests[4]) || (countOf(members[i], 6) > 0 && !bests[6])) inGroup.delete(i);
      for (const family of [4, 6] as const) {
        const asking = [...inGroup].filter((i) => countOf(members[i], family) > 0);
        if (asking.length === 0) continue;
        const best = bests[family];
        // Members in order while the block has room; the rest go alone (one of them claims the next block).
        const idx: number[] = [];
        let need = 0;
        for (const i of asking) {
          if (best && need + countOf(members[i], family) <= best.room) {
            idx.push(i);
            need += countOf(members[i], family);
          } else inGroup.delete(i);
        }
        if (!best || idx.length === 0) continue;
        const out = await commitToBlock(c, best.b, idx.map((i) => ({ args: members[i], handleIsNew: got[i].length === 0 })), family, reserved);
        out.forEach((o, k) => (o === 'alone' ? inGroup.delete(idx[k]) : got[idx[k]].push(...o)));
      }
    } catch {
      // A configuration read failed: those still in the running go alone too.
      inGroup.clear();
    }
  }
  // What a member that goes alone after all got in the group (a dual-stack member's IPv4) is given back.
  const partial = members.flatMap((_, i) => (!inGroup.has(i) ? got[i] : []));
  if (partial.length > 0) await c.releaseIps(partial.map((a) => ({ ip: a.ip, sequenceNumber: a.sequenceNumber }))).catch(() => undefined);
  return members.map((_, i) => (inGroup.has(i) ? got[i] : 'alone'));
}

interface Joining {
  args: AssignArgs;
  /** Nothing counted on its handle yet: it is created (a handle already there drops the member). */
  handleIsNew: boolean;
}

/** Handles first (each member's own), then one CAS of the block holding every member whose handle was counted. */
async function commitToBlock(c: GroupAssignClient, b: StoredBlock, joining: Joining[], family: Family, reserved: Reservations): Promise<(AssignedIp[] | 'alone')[]> {
  const cidr = b.block.cidr;
  // A member whose handle exists already (a retried ADD: its answer is what the handle holds) or
  // could not be counted is left out of the block and goes alone.
  const count = (j: Joining): Promise<void> =>
    j.handleIsNew ? c.countOnNewHandle(j.args.handleId, cidr, countOf(j.args, family)) : c.adjustHandle(j.args.handleId, cidr, countOf(j.args, family));
  const counted = await Promise.all(joining.map((j) => count(j).then(() => true, () => false)));
  if (!counted.some(Boolean)) return joining.map(() => 'alone');
  let block: AllocationBlock = b.block;
  const skip = reserved.reservedOrdinals(b.block);
  const assigned: (Assignment[] | undefined)[] = joining.map((j, i) => {
    if (!counted[i]) return undefined;
    const attr: AllocationAttribute = { handle_id: j.args.handleId, secondary: j.args.attrs ?? null };
    const r = assignFromBlock(block, countOf(j.args, family), attr, skip);
    block = r.block;
    return r.assigned;
  });
  const cache = c.affineBlocks(joining[0].args.hostname, family);
  let written: StoredObject | undefined;
  try {
    written = await c.store.update(blockValue(block), b.obj.revision);
  } catch (e) {
    cache.delete(cidr);
    // The block moved meanwhile (a borrower, another client): nothing was written, the counts are
    // taken back. Any other failure may have written it after all: the counts stay, and each
    // member's own path asks its handle what it holds (as a retried ADD alone does).
    if (isCasMiss(e)) await Promise.all(joining.map((j, i) => (counted[i] ? c.adjustHandle(j.args.handleId, cidr, -countOf(j.args, family)).catch(() => undefined) : undefined)));
    return joining.map(() => 'alone');
  }
  cache.set(cidr, { obj: written, block });
  return assigned.map((a) =>
    a ? a.map((x) => ({ ip: ordinalToIp(block, x.ordinal), family, block: cidr, ordinal: x.ordinal, sequenceNumber: x.sequenceNumber })) : 'alone',
  );
}
