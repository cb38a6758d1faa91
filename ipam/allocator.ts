// The datastore driver of IPAM, over the Store contract and without any transaction across objects,
// as libcalico-go's IPAM works on both of Calico's datastores: the block is the unit of atomicity
// (every assignment and release is a compare-and-swap on one block); a block is claimed as affinity
// pending → block created → affinity confirmed; a handle is incremented before its addresses are
// written into the block and decremented after they are released from it, so a crash between the two
// writes leaves a handle that counts too much (found and fixed by `ipam check` / the GC), never an
// address handed out twice. Block contents change only through the pure functions in block.ts.
import { API_VERSION } from '../datastore/model/resource.js';
import type { ReadOptions, Store, StoredObject, StoredValue } from '../datastore/store.js';
import { assignFromBlock, assignOrdinal, freeCount, ordinalToIp, ordinalsOfHandle, releaseFromBlock } from './block.js';
import { type Cidr, type Family, blockOf, contains, formatCidr, parseCidr, parseIp } from './cidr.js';
import { claimBlock, claimFreeBlock, confirmIfOurs, type ClaimOutcome } from './claim.js';
import type { AssignArgs, AssignedIp } from './assign-args.js';
import { IpamError } from './errors.js';
import { assignGroup, type GroupOutcome } from './group-assign.js';
import {
  DEFAULT_IPAM_CONFIG,
  hostAffinity,
  parseBlock,
  parseHandle,
  parseIpamConfig,
  type AffinityState,
  type AllocationAttribute,
  type AllocationBlock,
  type IpamConfig,
  type IpamHandle,
} from './model.js';
import { poolFromResource, poolsNeedNodeLabels, selectPools, type Pool } from './pools.js';
import { CONFIG_KEY, blockValue, familyOf, handleKey, handleValue, isCasMiss, isDsError, listBlockCidrs, readBlock, what, type StoredBlock, type StoredHandle } from './records.js';
import { hostAffinities, releaseAffinity, releaseHostAffinities } from './release-affinity.js';
import { NO_RESERVATIONS, reservationsFrom, type Reservations } from './reservations.js';
import { DEFAULT_RETRY, RETRY, withRetries, type Retry, type RetryPolicy } from './retry.js';

export type { AssignArgs, AssignedIp } from './assign-args.js';

export interface ReleaseSpec {
  ip: string;
  /** Release only if the address still carries this sequence number (guards against re-allocation). */
  sequenceNumber?: number;
}

export interface ReleaseReport {
  released: string[];
  notAllocated: string[];
  stale: string[];
}

export interface IpamClientOptions {
  retry?: RetryPolicy;
  /** Fault injection for chaos tests: sleep this long between the phases of a block claim. */
  claimPhaseDelayMs?: number;
}

/** The kinds every assignment reads with `cached` (the node's labels only where a pool selects nodes). */
export const IPAM_CONFIG_KINDS: readonly string[] = ['IPPool', 'IPReservation'];

/** How many handles' last-read state an IpamClient remembers (its first guess for their next CAS). */
const HANDLE_HINTS = 256;
/** A handle hint that was never read: creating the handle must succeed, or the assignment stops (HandleExists). */
const ASSUMED_NEW = 'assumed-new';

export class IpamClient {
  private readonly retry: RetryPolicy;
  private readonly phaseDelay: () => Promise<void>;
  /**
   * Round trips saved as libcalico-go saves them: the blocks this client last saw affine to a host
   * (per host and family) with the revision of its own last write, and each handle as last read or
   * written (null: absent; ASSUMED_NEW: not read, a caller said it is new). Only a first guess —
   * every write is still a CAS on the revision, and a conflict re-reads — so a stale entry costs one
   * failed write, never a wrong one.
   */
  private readonly affine = new Map<string, Map<string, StoredBlock>>();
  private readonly handleHints = new Map<string, StoredHandle | null | typeof ASSUMED_NEW>();

  constructor(
    readonly store: Store,
    opts: IpamClientOptions = {},
  ) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    const d = opts.claimPhaseDelayMs ?? 0;
    this.phaseDelay = d > 0 ? () => new Promise((r) => setTimeout(r, d)) : () => Promise.resolve();
  }

  // ---------- reads ----------

  async getConfig(): Promise<IpamConfig> {
    const o = await this.store.get(CONFIG_KEY);
    return o ? parseIpamConfig(what(o), o.value.spec) : { ...DEFAULT_IPAM_CONFIG };
  }

  async setConfig(cfg: IpamConfig): Promise<void> {
    const value: StoredValue = { apiVersion: API_VERSION, kind: 'IPAMConfig', metadata: { name: 'default' }, spec: { ...cfg } };
    const cur = await this.store.get(CONFIG_KEY);
    if (cur) await this.store.update(value, cur.revision);
    else await this.store.create(value);
  }

  /** Usable pools; malformed ones are skipped (they are reported by `ipam check`). */
  async listPools(opts?: ReadOptions): Promise<Pool[]> {
    const { items } = await this.store.list('IPPool', undefined, opts);
    const out: Pool[] = [];
    for (const o of items) {
      const p = poolFromResource(o.key.name, o.value.spec);
      if (typeof p !== 'string') out.push(p);
    }
    return out;
  }

  /** Every IPReservation's ranges; malformed resources are skipped like malformed pools. */
  async reservations(opts?: ReadOptions): Promise<Reservations> {
    const { items } = await this.store.list('IPReservation', undefined, opts);
    return reservationsFrom(items.map((o) => (o.value.spec ?? {}) as { reservedCIDRs?: string[] }));
  }

  async nodeLabels(host: string, opts?: ReadOptions): Promise<Record<string, string>> {
    const o = await this.store.get({ kind: 'Node', name: host }, opts);
    return o?.value.metadata.labels ?? {};
  }

  async getBlock(cidr: string): Promise<StoredBlock | undefined> {
    return readBlock(this.store, cidr);
  }

  async getHandle(handleId: string): Promise<StoredHandle | undefined> {
    const o = await this.store.get(handleKey(handleId));
    const h = o ? { obj: o, handle: parseHandle(what(o), o.value.spec) } : undefined;
    this.hintHandle(handleId, h ?? null);
    return h;
  }

  private hintHandle(handleId: string, h: StoredHandle | null | typeof ASSUMED_NEW | undefined): void {
    this.handleHints.delete(handleId);
    if (h === undefined) return;
    if (this.handleHints.size >= HANDLE_HINTS) this.handleHints.delete(this.handleHints.keys().next().value as string);
    this.handleHints.set(handleId, h);
  }

  /** The host's cached affine blocks of a family (see `affine`); group-assign.ts writes through it too. */
  affineBlocks(host: string, family: Family): Map<string, StoredBlock> {
    const k = `${family}/${host}`;
    let m = this.affine.get(k);
    if (!m) {
      // One entry per host this client allocates for: a node agent has one, a plugin process one.
      if (this.affine.size >= 64) this.affine.clear();
      m = new Map();
      this.affine.set(k, m);
    }
    return m;
  }

  /** Addresses a handle holds. */
  async ipsByHandle(handleId: string): Promise<string[]> {
    const h = await this.getHandle(handleId);
    if (!h) return [];
    const out: string[] = [];
    for (const cidr of Object.keys(h.handle.block)) {
      const b = await this.getBlock(cidr);
      if (b) for (const o of ordinalsOfHandle(b.block, handleId)) out.push(ordinalToIp(b.block, o));
    }
    return out;
  }

  /** Affinities of one host and family. */
  async hostAffinities(host: string, family: Family): Promise<{ cidr: string; state: AffinityState; obj: StoredObject }[]> {
    return hostAffinities(this.store, host, family);
  }

  // ---------- assignment ----------

  /** Assigns num4 IPv4 and num6 IPv6 addresses to a handle: all of them or none (throws Exhausted). */
  async autoAssign(args: AssignArgs): Promise<{ ipv4: AssignedIp[]; ipv6: AssignedIp[] }> {
    if (!args.newHandle) return this.autoAssignCached(args);
    this.hintHandle(args.handleId, ASSUMED_NEW);
    try {
      return await this.autoAssignCached(args);
    } finally {
      // Unused (nothing was free, say): no later call may take the guess for a read.
      if (this.handleHints.get(args.handleId) === ASSUMED_NEW) this.hintHandle(args.handleId, undefined);
    }
  }

  /**
   * New pods' ADDs that queued together on one host: grouped into one block write where they can be
   * (group-assign.ts); the outcome at index i is member i's addresses, or 'alone' — assign it by itself.
   */
  assignGroup(members: AssignArgs[]): Promise<GroupOutcome[]> {
    return assignGroup(this, members);
  }

  /** Counts n addresses of a block on a handle the caller says is new: IpamError HandleExists if it is not. */
  async countOnNewHandle(handleId: string, cidr: string, n: number): Promise<void> {
    this.hintHandle(handleId, ASSUMED_NEW);
    try {
      await this.adjustHandle(handleId, cidr, n);
    } finally {
      if (this.handleHints.get(handleId) === ASSUMED_NEW) this.hintHandle(handleId, undefined);
    }
  }

  private async autoAssignCached(args: AssignArgs): Promise<{ ipv4: AssignedIp[]; ipv6: AssignedIp[] }> {
    // Pools, reservations and the node's labels are configuration: the datastore's cache may answer
    // (on Kubernetes the apiserver's watch cache, about half the cost of a read through to its
    // etcd). Every address is still taken by a CAS on its block; only a pool created or a reservation
    // lifted a moment ago could be missed, so a "no pool" or "exhausted" answer is checked once more
    // against current reads.
    try {
      return await this.autoAssignFrom(args, { cached: true });
    } catch (e) {
      if (!(e instanceof IpamError) || (e.code !== 'NoPool' && e.code !== 'Exhausted')) throw e;
      return this.autoAssignFrom(args, {});
    }
  }

  private async autoAssignFrom(args: AssignArgs, reads: ReadOptions): Promise<{ ipv4: AssignedIp[]; ipv6: AssignedIp[] }> {
    const use = args.use ?? 'Workload';
    const [pools, reserved] = await Promise.all([this.listPools(reads), this.reservations(reads)]);
    // The node's labels matter only to a pool that selects nodes: with all() everywhere, one read fewer per ADD.
    const labels = poolsNeedNodeLabels(pools) ? await this.nodeLabels(args.hostname, reads) : {};
    const got: { ipv4: AssignedIp[]; ipv6: AssignedIp[] } = { ipv4: [], ipv6: [] };
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
        const ips = await this.assignFamily(family, num, args.hostname, candidates, attr, reserved);
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
      if (all.length > 0) await this.releaseIps(all.map((a) => ({ ip: a.ip, sequenceNumber: a.sequenceNumber })));
      throw e;
    }
  }

  private async assignFamily(family: Family, num: number, host: string, pools: Pool[], attr: AllocationAttribute, reserved: Reservations): Promise<AssignedIp[]> {
    const out: AssignedIp[] = [];
    const inPools = (cidr: string): boolean => {
      const c = parseCidr(cidr);
      return pools.some((p) => contains(p.cidr, c.family, c.base) && c.prefix === p.blockSize);
    };
    let config: IpamConfig | undefined;
    let lostRace = false;
    const ours = (b: AllocationBlock): boolean => b.affinity === hostAffinity(host);
    const cache = this.affineBlocks(host, family);
    // 0. The host's blocks as this client last wrote them: no listing, no read (a conflict re-reads).
    for (const [cidr, b] of [...cache]) {
      if (out.length >= num) break;
      if (!inPools(cidr) || freeCount(b.block) === 0) continue;
      out.push(...(await this.assignInBlock(cidr, num - out.length, attr, reserved, ours, cache)));
    }
    for (let round = 0; round < this.retry.attempts && out.length < num; round++) {
      // 1. Blocks affine to this host.
      const affs = await this.hostAffinities(host, family);
      cache.clear();
      let affine = 0;
      for (const a of affs) {
        if (!inPools(a.cidr) || a.state === 'pendingDeletion') continue;
        if (a.state === 'pending' && !(await confirmIfOurs(this.store, host, a.cidr, a.obj))) continue;
        affine++;
        if (out.length < num) out.push(...(await this.assignInBlock(a.cidr, num - out.length, attr, reserved, ours, cache)));
      }
      if (out.length >= num) break;
      // 2. Claim a new block.
      config ??= await this.getConfig();
      if (config.autoAllocateBlocks && (config.maxBlocksPerHost === 0 || affine < config.maxBlocksPerHost)) {
        const c = await this.claimFreeBlock(host, pools, lostRace, reserved);
        if (c.kind === 'claimed') continue; // go round: allocate from it as an affine block
        if (c.kind === 'retry') {
          lostRace = true;
          // Lost a race for a block: back off before looking again, so contenders spread out.
          await new Promise((r) => setTimeout(r, Math.random() * this.retry.backoffMs * Math.min(round + 1, 20)));
          continue;
        }
      }
      // 3. Borrow from any block in the pools, unless strict affinity forbids it.
      if (!config.strictAffinity) out.push(...(await this.borrow(family, num - out.length, inPools, attr, reserved)));
      break;
    }
    return out;
  }

  private async borrow(family: Family, num: number, inPools: (c: string) => boolean, attr: AllocationAttribute, reserved: Reservations): Promise<AssignedIp[]> {
    const out: AssignedIp[] = [];
    const { items } = await this.store.list('IPAMBlock');
    for (const o of items) {
      if (out.length >= num) break;
      let b: AllocationBlock;
      try {
        b = parseBlock(what(o), o.value.spec);
      } catch {
        continue; // reported by `ipam check`
      }
      if (familyOf(b.cidr) !== family || !inPools(b.cidr) || freeCount(b) === 0) continue;
      out.push(...(await this.assignInBlock(b.cidr, num - out.length, attr, reserved, () => true)));
    }
    return out;
  }

  /**
   * Takes up to num addresses from one block: handle first, then the block (CAS); a lost block race
   * undoes the handle. With `cache` (the host's affine blocks), the first attempt starts from the
   * cached block instead of reading it, and the block as written is remembered there.
   */
  private async assignInBlock(
    cidr: string,
    num: number,
    attr: AllocationAttribute,
    reserved: Reservations,
    stillOk: (b: AllocationBlock) => boolean,
    cache?: Map<string, StoredBlock>,
  ): Promise<AssignedIp[]> {
    const handleId = attr.handle_id ?? '';
    return withRetries(`assign in block ${cidr}`, this.retry, async (attempt) => {
      const cached = attempt === 0 ? cache?.get(cidr) : undefined;
      const b = cached ?? (await this.getBlock(cidr));
      cache?.delete(cidr);
      if (!b || !stillOk(b.block)) return [];
      if (freeCount(b.block) === 0) {
        cache?.set(cidr, b);
        return [];
      }
      const { block, assigned } = assignFromBlock(b.block, num, attr, reserved.reservedOrdinals(b.block));
      if (assigned.length === 0) return []; // only reserved addresses are free
      const written = await this.writeBlockWithHandle(b, block, handleId, assigned.length);
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
  private async writeBlockWithHandle(b: StoredBlock, block: AllocationBlock, handleId: string, n: number): Promise<StoredObject | undefined> {
    if (handleId) await this.adjustHandle(handleId, block.cidr, n);
    try {
      return await this.store.update(blockValue(block), b.obj.revision);
    } catch (e) {
      if (!isCasMiss(e)) throw e;
      if (handleId) await this.adjustHandle(handleId, block.cidr, -n);
      return undefined;
    }
  }

  /** Adds delta to the handle's count for a block (CAS loop); the handle is created on first use and deleted when it counts nothing. */
  async adjustHandle(handleId: string, cidr: string, delta: number): Promise<void> {
    if (delta === 0) return;
    await withRetries(`update handle ${handleId}`, this.retry, async (attempt) => {
      // First from what this client last saw of it, or was told (a new pod's handle: absent, unread).
      const hint = attempt === 0 ? this.handleHints.get(handleId) : undefined;
      const assumedNew = hint === ASSUMED_NEW;
      const h = assumedNew ? undefined : hint !== undefined ? (hint ?? undefined) : await this.getHandle(handleId);
      this.hintHandle(handleId, undefined);
      const handle: IpamHandle = h ? { ...h.handle, block: { ...h.handle.block } } : { handleID: handleId, block: {}, deleted: false };
      const count = (handle.block[cidr] ?? 0) + delta;
      if (count > 0) handle.block[cidr] = count;
      else delete handle.block[cidr];
      try {
        const empty = Object.keys(handle.block).length === 0;
        if (!h) {
          if (!empty) this.hintHandle(handleId, { obj: await this.store.create(handleValue(handle)), handle });
        } else if (empty) {
          await this.store.delete(h.obj.key, h.obj.revision);
          this.hintHandle(handleId, null);
        } else this.hintHandle(handleId, { obj: await this.store.update(handleValue(handle), h.obj.revision), handle });
        return true;
      } catch (e) {
        if (assumedNew && isDsError(e, 'AlreadyExists')) throw new IpamError('HandleExists', `handle ${handleId} exists already`);
        if (isCasMiss(e) || isDsError(e, 'AlreadyExists')) return RETRY;
        throw e;
      }
    });
  }

  /** Assigns one specific address (the ipAddrs annotation); claims its block for the host if nobody has. */
  async assignIp(ip: string, handleId: string, hostname: string, attrs?: Record<string, string>): Promise<AssignedIp> {
    let addr: { family: Family; value: bigint };
    try {
      addr = parseIp(ip);
    } catch (e) {
      throw new IpamError('Invalid', (e as Error).message);
    }
    const pools = await this.listPools();
    const pool = pools.find((p) => contains(p.cidr, addr.family, addr.value));
    if (!pool) throw new IpamError('NoPool', `requested IP ${ip} is not in any IP pool`);
    const cidr = blockOf(addr.family, addr.value, pool.blockSize);
    const blockCidr = formatCidr(cidr);
    const attr: AllocationAttribute = { handle_id: handleId, secondary: attrs ?? null };
    return withRetries(`assign ${ip}`, this.retry, async () => {
      const b = await this.getBlock(blockCidr);
      if (!b) {
        const c = await this.claimBlock(hostname, cidr);
        if (c.kind === 'full') throw new IpamError('InUse', `block ${blockCidr} for ${ip} cannot be claimed`);
        return RETRY;
      }
      const ord = Number(addr.value - cidr.base);
      const r = assignOrdinal(b.block, ord, attr);
      if (!r) throw new IpamError('InUse', `requested IP ${ip} is already in use`);
      if (!(await this.writeBlockWithHandle(b, r.block, handleId, 1))) return RETRY;
      return { ip, family: addr.family, block: blockCidr, ordinal: ord, sequenceNumber: r.assigned.sequenceNumber };
    });
  }

  // ---------- block claim (claim.ts) ----------

  async claimFreeBlock(host: string, pools: Pool[], spread = false, reserved: Reservations = NO_RESERVATIONS): Promise<ClaimOutcome> {
    return claimFreeBlock(this.store, host, pools, spread, reserved, this.phaseDelay);
  }

  async claimBlock(host: string, cidr: Cidr): Promise<ClaimOutcome> {
    return claimBlock(this.store, host, cidr, this.phaseDelay);
  }

  // ---------- release ----------

  /** Releases addresses; a stale sequence number leaves the (re-allocated) address alone. */
  async releaseIps(specs: ReleaseSpec[]): Promise<ReleaseReport> {
    const report: ReleaseReport = { released: [], notAllocated: [], stale: [] };
    const pools = await this.listPools();
    const byBlock = new Map<string, { ordinal: number; ip: string; sequenceNumber?: number }[]>();
    let allBlocks: string[] | undefined;
    for (const s of specs) {
      let addr: { family: Family; value: bigint };
      try {
        addr = parseIp(s.ip);
      } catch (e) {
        throw new IpamError('Invalid', (e as Error).message);
      }
      let blockCidr: Cidr | undefined;
      const pool = pools.find((p) => contains(p.cidr, addr.family, addr.value));
      if (pool) blockCidr = blockOf(addr.family, addr.value, pool.blockSize);
      else {
        // The pool was deleted: find the block by listing (rare).
        allBlocks ??= await this.listBlockCidrs();
        blockCidr = allBlocks.map(parseCidr).find((c) => contains(c, addr.family, addr.value));
      }
      if (!blockCidr) {
        report.notAllocated.push(s.ip);
        continue;
      }
      const key = formatCidr(blockCidr);
      const list = byBlock.get(key) ?? [];
      list.push({ ordinal: Number(addr.value - blockCidr.base), ip: s.ip, sequenceNumber: s.sequenceNumber });
      byBlock.set(key, list);
    }
    for (const [cidr, reqs] of byBlock) {
      const r = await withRetries(`release in block ${cidr}`, this.retry, () => this.releaseInBlock(cidr, reqs));
      report.released.push(...r.released);
      report.notAllocated.push(...r.notAllocated);
      report.stale.push(...r.stale);
    }
    return report;
  }

  async listBlockCidrs(): Promise<string[]> {
    return listBlockCidrs(this.store);
  }

  /** The block first (CAS), then each handle's count: a crash between leaves a handle counting too much, never a freed address still counted as free. */
  private async releaseInBlock(cidr: string, reqs: { ordinal: number; ip: string; sequenceNumber?: number }[]): Promise<ReleaseReport | Retry> {
    const b = await this.getBlock(cidr);
    if (!b) return { released: [], notAllocated: reqs.map((r) => r.ip), stale: [] };
    const out = releaseFromBlock(b.block, reqs);
    const ipOf = (o: number): string => reqs.find((r) => r.ordinal === o)?.ip ?? ordinalToIp(b.block, o);
    const report: ReleaseReport = {
      released: out.released.map((r) => ipOf(r.ordinal)),
      notAllocated: out.notAllocated.map(ipOf),
      stale: out.stale.map(ipOf),
    };
    if (out.released.length === 0) return report;
    try {
      await this.store.update(blockValue(out.block), b.obj.revision);
    } catch (e) {
      if (isCasMiss(e)) return RETRY;
      throw e;
    }
    const counts = new Map<string, number>();
    for (const r of out.released) if (r.handle) counts.set(r.handle, (counts.get(r.handle) ?? 0) + 1);
    for (const [id, n] of counts) await this.adjustHandleIfPresent(id, cidr, -n);
    return report;
  }

  /** A handle that was never written (foreign data) has nothing to decrement. */
  private async adjustHandleIfPresent(handleId: string, cidr: string, delta: number): Promise<void> {
    if (await this.store.get(handleKey(handleId))) await this.adjustHandle(handleId, cidr, delta);
  }

  /** Releases every address of a handle; idempotent (an unknown handle releases nothing). */
  async releaseByHandle(handleId: string): Promise<string[]> {
    const released: string[] = [];
    const h0 = await this.getHandle(handleId);
    if (!h0) return released;
    for (const cidr of Object.keys(h0.handle.block)) {
      const ips = await withRetries(`release handle ${handleId} in ${cidr}`, this.retry, async () => {
        const b = await this.getBlock(cidr);
        const ords = b ? ordinalsOfHandle(b.block, handleId) : [];
        if (b && ords.length > 0) {
          const out = releaseFromBlock(b.block, ords.map((ordinal) => ({ ordinal })));
          try {
            await this.store.update(blockValue(out.block), b.obj.revision);
          } catch (e) {
            if (isCasMiss(e)) return RETRY;
            throw e;
          }
        }
        return b ? ords.map((o) => ordinalToIp(b.block, o)) : [];
      });
      // The block no longer holds any address of the handle: drop the block from it.
      await this.dropHandleBlock(handleId, cidr);
      released.push(...ips);
    }
    return released;
  }

  private async dropHandleBlock(handleId: string, cidr: string): Promise<void> {
    await withRetries(`update handle ${handleId}`, this.retry, async () => {
      const h = await this.getHandle(handleId);
      if (!h || !(cidr in h.handle.block)) return true;
      const block = { ...h.handle.block };
      delete block[cidr];
      try {
        if (Object.keys(block).length === 0) await this.store.delete(h.obj.key, h.obj.revision);
        else await this.store.update(handleValue({ ...h.handle, block }), h.obj.revision);
        return true;
      } catch (e) {
        if (isCasMiss(e)) return RETRY;
        throw e;
      }
    });
  }

  /** Releases a host's affinity for a block, and the block if it is empty and ours (release-affinity.ts). */
  async releaseAffinity(host: string, cidr: string): Promise<boolean> {
    return releaseAffinity(this.store, this.retry, host, cidr);
  }

  /** Releases every affinity of a host (node deleted); non-empty blocks keep their allocations. */
  async releaseHostAffinities(host: string): Promise<{ released: string[]; kept: string[] }> {
    return releaseHostAffinities(this.store, this.retry, host);
  }
}

