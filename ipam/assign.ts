// The assignment path of IpamClient (allocator.ts): automatic assignment — the host's affine blocks,
// then a newly claimed block, then borrowing — and one named address. Every address is handed out by
// a compare-and-swap of its block, after its handle already counts it (see allocator.ts).
import type { ReadOptions, StoredObject } from '../datastore/store.js';
import type { AssignArgs, AssignedIp } from './assign-args.js';
import { assignFromBlock, assignOrdinal, freeCount, ordinalToIp } from './block.js';
import { type Cidr, type Family, blockOf, contains, formatCidr, parseCidr, parseIp } from './cidr.js';
import { confirmIfOurs, type ClaimOutcome } from './claim.js';
import { IpamError } from './errors.js';
import type { GroupAssignClient } from './group-assign.js';
import { hostAffinity, parseBlock, type AffinityState, type AllocationAttribute, type AllocationBlock, type IpamConfig } from './model.js';
import { poolsNeedNodeLabels, selectPools, type Pool } from './pools.js';
import { blockValue, familyOf, isCasMiss, what, type StoredBlock } from './records.js';
import type { Reservations } from './reservations.js';
import { RETRY, withRetries, type RetryPolicy } from './retry.js';

/** What assignment needs of IpamClient: its reads, caches, handle counting, block claims and release (to undo). */
export interface AssignClient extends Pick<GroupAssignClient, 'store' | 'listPools' | 'reservations' | 'nodeLabels' | 'affineBlocks' | 'adjustHandle' | 'releaseIps'> {
  readonly retry: RetryPolicy;
  getConfig(): Promise<IpamConfig>;
  getBlock(cidr: string): Promise<StoredBlock | undefined>;
  hostAffinities(host: string, family: Family): Promise<{ cidr: string; state: AffinityState; obj: StoredObject }[]>;
  claimFreeBlock(host: string, pools: Pool[], spread?: boolean, reserved?: Reservations): Promise<ClaimOutcome>;
  claimBlock(host: string, cidr: Cidr): Promise<ClaimOutcome>;
}

type Assigned = { ipv4: AssignedIp[]; ipv6: AssignedIp[] };

/** Assigns num4 IPv4 and num6 IPv6 addresses to a handle: all of them or none (throws Exhausted). */
export async function autoAssign(c: AssignClient, args: AssignArgs): Promise<Assigned> {
  // Pools, reservations and the node's labels are configuration: the datastore's cache may answer
  // (on Kubernetes the apiserver's watch cache, about half the cost of a read through to its
  // etcd). Every address is still taken by a CAS on its block; only a pool created or a reservation
  // lifted a moment ago could be missed, so a "no pool" or "exhausted" answer is checked once more
  // against current reads.
  try {
    return await autoAssignFrom(c, args, { cached: true });
  } catch (e) {
    if (!(e instanceof IpamError) || (e.code !== 'NoPool' && e.code !== 'Exhausted')) throw e;
    return autoAssignFrom(c, args, {});
  }
}

async function autoAssignFrom(c: AssignClient, args: AssignArgs, reads: ReadOptions): Promise<Assigned> {
  const use = args.use ?? 'Workload';
  const [pools, reserved] = await Promise.all([c.listPools(reads), c.reservations(reads)]);
  // The node's labels matter only to a pool that selects nodes: with all() everywhere, one read fewer per ADD.
  const labels = poolsNeedNodeLabels(pools) ? await c.nodeLabels(args.hostname, reads) : {};
  const got: Assigned = { ipv4: [], ipv6: [] };
  const attr: AllocationAttribute = { handle_id: args.handleId, secondary: args.attrs ?? null };
  try {
    for (const family of [4, 6] as const) {
      const num = (family === 4 ? args.num4 : args.num6) ?? 0;
      if (num <= 0) continue;
      const requested = family === 4 ? args.ipv4Pools : args.ipv6Pools;
      let candidates: Pool[];
      try {
        candidates = selectPools(pools, family, labels, use, requested);
      } catch (e) {
        throw new IpamError('NoPool', (e as Error).message);
      }
      if (candidates.length === 0) throw new IpamError('NoPool', `no enabled IPv${family} pool with assignmentMode Automatic allows ${use} on node "${args.hostname}"`);
      const ips = await assignFamily(c, family, num, args.hostname, candidates, attr, reserved);
      (family === 4 ? got.ipv4 : got.ipv6).push(...ips);
      if (ips.length < num) {
        throw new IpamError(
          'Exhausted',
          `IPv${family} pools ${candidates.map((p) => p.name).join(', ')} have no free address for node "${args.hostname}" (wanted ${num}, got ${ips.length})`,
        );
      }
    }
    return got;
  } catch (e) {
    const all = [...got.ipv4, ...got.ipv6];
    if (all.length > 0) await c.releaseIps(all.map((a) => ({ ip: a.ip, sequenceNumber: a.sequenceNumber })));
    throw e;
  }
}

async function assignFamily(c: AssignClient, family: Family, num: number, host: string, pools: Pool[], attr: AllocationAttribute, reserved: Reservations): Promise<AssignedIp[]> {
  const out: AssignedIp[] = [];
  const inPools = (cidr: string): boolean => {
    const b = parseCidr(cidr);
    return pools.some((p) => contains(p.cidr, b.family, b.base) && b.prefix === p.blockSize);
  };
  let config: IpamConfig | undefined;
  let lostRace = false;
  const ours = (b: AllocationBlock): boolean => b.affinity === hostAffinity(host);
  const cache = c.affineBlocks(host, family);
  // 0. The host's blocks as this client last wrote them: no listing, no read (a conflict re-reads).
  for (const [cidr, b] of [...cache]) {
    if (out.length >= num) break;
    if (!inPools(cidr) || freeCount(b.block) === 0) continue;
    out.push(...(await assignInBlock(c, cidr, num - out.length, attr, reserved, ours, cache)));
  }
  for (let round = 0; round < c.retry.attempts && out.length < num; round++) {
    // 1. Blocks affine to this host.
    const affs = await c.hostAffinities(host, family);
    cache.clear();
    let affine = 0;
    for (const a of affs) {
      if (!inPools(a.cidr) || a.state === 'pendingDeletion') continue;
      if (a.state === 'pending' && !(await confirmIfOurs(c.store, host, a.cidr, a.obj))) continue;
      affine++;
      if (out.length < num) out.push(...(await assignInBlock(c, a.cidr, num - out.length, attr, reserved, ours, cache)));
    }
    if (out.length >= num) break;
    // 2. Claim a new block.
    config ??= await c.getConfig();
    if (config.autoAllocateBlocks && (config.maxBlocksPerHost === 0 || affine < config.maxBlocksPerHost)) {
      const claim = await c.claimFreeBlock(host, pools, lostRace, reserved);
      if (claim.kind === 'claimed') continue; // go round: allocate from it as an affine block
      if (claim.kind === 'retry') {
        lostRace = true;
        // Lost a race for a block: back off before looking again, so contenders spread out.
        await new Promise((r) => setTimeout(r, Math.random() * c.retry.backoffMs * Math.min(round + 1, 20)));
        continue;
      }
    }
    // 3. Borrow from any block in the pools, unless strict affinity forbids it.
    if (!config.strictAffinity) out.push(...(await borrow(c, family, num - out.length, inPools, attr, reserved)));
    break;
  }
  return out;
}

async function borrow(c: AssignClient, family: Family, num: number, inPools: (cidr: string) => boolean, attr: AllocationAttribute, reserved: Reservations): Promise<AssignedIp[]> {
  const out: AssignedIp[] = [];
  const { items } = await c.store.list('IPAMBlock');
  for (const o of items) {
    if (out.length >= num) break;
    let b: AllocationBlock;
    try {
      b = parseBlock(what(o), o.value.spec);
    } catch {
      continue; // reported by `ipam check`
    }
    if (familyOf(b.cidr) !== family || !inPools(b.cidr) || freeCount(b) === 0) continue;
    out.push(...(await assignInBlock(c, b.cidr, num - out.length, attr, reserved, () => true)));
  }
  return out;
}

/**
 * Takes up to num addresses from one block: handle first, then the block (CAS); a lost block race
 * undoes the handle. With `cache` (the host's affine blocks), the first attempt starts from the
 * cached block instead of reading it, and the block as written is remembered there.
 */
async function assignInBlock(
  c: AssignClient,
  cidr: string,
  num: number,
  attr: AllocationAttribute,
  reserved: Reservations,
  stillOk: (b: AllocationBlock) => boolean,
  cache?: Map<string, StoredBlock>,
): Promise<AssignedIp[]> {
  const handleId = attr.handle_id ?? '';
  return withRetries(`assign in block ${cidr}`, c.retry, async (attempt) => {
    const cached = attempt === 0 ? cache?.get(cidr) : undefined;
    const b = cached ?? (await c.getBlock(cidr));
    cache?.delete(cidr);
    if (!b || !stillOk(b.block)) return [];
    if (freeCount(b.block) === 0) {
      cache?.set(cidr, b);
      return [];
    }
    const { block, assigned } = assignFromBlock(b.block, num, attr, reserved.reservedOrdinals(b.block));
    if (assigned.length === 0) return []; // only reserved addresses are free
    const written = await writeBlockWithHandle(c, b, block, handleId, assigned.length);
    if (!written) return RETRY;
    cache?.set(cidr, { obj: written, block });
    return assigned.map((a) => ({
      ip: ordinalToIp(block, a.ordinal),
      family: familyOf(cidr),
      block: cidr,
      ordinal: a.ordinal,
      sequenceNumber: a.sequenceNumber,
    }));
  });
}

/**
 * Counts `n` addresses of `cidr` on the handle, then writes the block (CAS). If the block moved
 * meanwhile the count is taken back and false returned. A crash between the two writes leaves the
 * handle counting addresses the block does not hold: `ipam check` reports it, the GC corrects it.
 */
async function writeBlockWithHandle(c: AssignClient, b: StoredBlock, block: AllocationBlock, handleId: string, n: number): Promise<StoredObject | undefined> {
  if (handleId) await c.adjustHandle(handleId, block.cidr, n);
  try {
    return await c.store.update(blockValue(block), b.obj.revision);
  } catch (e) {
    if (!isCasMiss(e)) throw e;
    if (handleId) await c.adjustHandle(handleId, block.cidr, -n);
    return undefined;
  }
}

/** Assigns one specific address (the ipAddrs annotation); claims its block for the host if nobody has. */
export async function assignIp(c: AssignClient, ip: string, handleId: string, hostname: string, attrs?: Record<string, string>): Promise<AssignedIp> {
  let addr: { family: Family; value: bigint };
  try {
    addr = parseIp(ip);
  } catch (e) {
    throw new IpamError('Invalid', (e as Error).message);
  }
  const pools = await c.listPools();
  const pool = pools.find((p) => contains(p.cidr, addr.family, addr.value));
  if (!pool) throw new IpamError('NoPool', `requested IP ${ip} is not in any IP pool`);
  const cidr = blockOf(addr.family, addr.value, pool.blockSize);
  const blockCidr = formatCidr(cidr);
  const attr: AllocationAttribute = { handle_id: handleId, secondary: attrs ?? null };
  return withRetries(`assign ${ip}`, c.retry, async () => {
    const b = await c.getBlock(blockCidr);
    if (!b) {
      const claim = await c.claimBlock(hostname, cidr);
      if (claim.kind === 'full') throw new IpamError('InUse', `block ${blockCidr} for ${ip} cannot be claimed`);
      return RETRY;
    }
    const ord = Number(addr.value - cidr.base);
    const r = assignOrdinal(b.block, ord, attr);
    if (!r) throw new IpamError('InUse', `requested IP ${ip} is already in use`);
    if (!(await writeBlockWithHandle(c, b, r.block, handleId, 1))) return RETRY;
    return { ip, family: addr.family, block: blockCidr, ordinal: ord, sequenceNumber: r.assigned.sequenceNumber };
  });
}
