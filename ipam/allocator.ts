// The datastore driver of IPAM, over the Store contract and without any transaction across objects,
// as libcalico-go's IPAM works on both of Calico's datastores: the block is the unit of atomicity
// (every assignment and release is a compare-and-swap on one block); a block is claimed as affinity
// pending → block created → affinity confirmed; a handle is incremented before its addresses are
// written into the block and decremented after they are released from it, so a crash between the two
// writes leaves a handle that counts too much (found and fixed by `ipam check` / the GC), never an
// address handed out twice. Block contents change only through the pure functions in block.ts.
import { API_VERSION } from '../datastore/model/resource.js';
import type { ReadOptions, Store, StoredObject, StoredValue } from '../datastore/store.js';
import { ordinalToIp, ordinalsOfHandle, releaseFromBlock } from './block.js';
import { type Cidr, type Family, blockOf, contains, formatCidr, parseCidr, parseIp } from './cidr.js';
import { claimBlock, claimFreeBlock, type ClaimOutcome } from './claim.js';
import type { AssignArgs, AssignedIp } from './assign-args.js';
import { assignIp, autoAssign, type AssignClient } from './assign.js';
import { IpamError } from './errors.js';
import { assignGroup, type GroupOutcome } from './group-assign.js';
import { DEFAULT_IPAM_CONFIG, parseHandle, parseIpamConfig, type AffinityState, type IpamConfig, type IpamHandle } from './model.js';
import { poolFromResource, type Pool } from './pools.js';
import { CONFIG_KEY, blockValue, handleKey, handleValue, isCasMiss, isDsError, listBlockCidrs, readBlock, what, type StoredBlock, type StoredHandle } from './records.js';
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

export class IpamClient implements AssignClient {
  /** Bounds every CAS loop here and in assign.ts. */
  readonly retry: RetryPolicy;
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

  /** The host's cached affine blocks of a family (see `affine`); assign.ts and group-assign.ts write through it. */
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
    if (!args.newHandle) return autoAssign(this, args);
    return this.assumingNew(args.handleId, () => autoAssign(this, args));
  }

  /** Assigns one specific address (the ipAddrs annotation); claims its block for the host if nobody has. */
  async assignIp(ip: string, handleId: string, hostname: string, attrs?: Record<string, string>): Promise<AssignedIp> {
    return assignIp(this, ip, handleId, hostname, attrs);
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
    return this.assumingNew(handleId, () => this.adjustHandle(handleId, cidr, n));
  }

  /** Runs fn with the handle hinted as new (its first write skips the read). */
  private async assumingNew<T>(handleId: string, fn: () => Promise<T>): Promise<T> {
    this.hintHandle(handleId, ASSUMED_NEW);
    try {
      return await fn();
    } finally {
      // Unused (nothing was free, say): no later call may take the guess for a read.
      if (this.handleHints.get(handleId) === ASSUMED_NEW) this.hintHandle(handleId, undefined);
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

