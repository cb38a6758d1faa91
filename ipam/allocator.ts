// The datastore driver of IPAM: every write is a compare-and-swap on etcd mod revisions, retried a
// bounded number of times. Block contents change only through the pure functions in block.ts.
import { DatastoreError, type Backend, type KV, type TxnCompare, type TxnOp } from '../datastore/backend.js';
import {
  IPAM_CONFIG_KEY,
  blockAffinityKey,
  hostAffinityPrefix,
  ipamBlockKey,
  ipamBlockPrefix,
  ipamHandleKey,
  keyPartToCidr,
  resourceKey,
  resourceListPrefix,
} from '../datastore/keys.js';
import { assignFromBlock, assignOrdinal, freeCount, isEmpty, ordinalToIp, ordinalsOfHandle, releaseFromBlock, newBlock } from './block.js';
import { blockIndexKey, emptyWindow, firstClear, parseWindow, windowCount, withBit, WINDOW_BLOCKS } from './blockindex.js';
import { type Cidr, type Family, blockIndex, blockOf, contains, formatCidr, nthBlock, parseCidr, parseIp } from './cidr.js';
import { IpamError } from './errors.js';
import {
  DEFAULT_IPAM_CONFIG,
  affinityHost,
  hostAffinity,
  parseAffinity,
  parseBlock,
  parseHandle,
  parseIpamConfig,
  type AffinityState,
  type AllocationAttribute,
  type AllocationBlock,
  type IpamConfig,
  type IpamHandle,
} from './model.js';
import { poolFromResource, selectPools, type IpUse, type Pool } from './pools.js';
import { DEFAULT_RETRY, RETRY, withRetries, type Retry, type RetryPolicy } from './retry.js';

export const IPAM_CONFIG_RESOURCE_KEY = resourceKey('ipamconfigs', 'default');

export interface AssignArgs {
  handleId: string;
  hostname: string;
  num4?: number;
  num6?: number;
  /** Secondary attributes stored with the allocation (namespace, pod, node…). */
  attrs?: Record<string, string>;
  /** Pool names or CIDRs to draw from instead of the node's default pools. */
  ipv4Pools?: string[];
  ipv6Pools?: string[];
  use?: IpUse;
}

export interface AssignedIp {
  ip: string;
  family: Family;
  block: string;
  ordinal: number;
  sequenceNumber: number;
}

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

export type ClaimOutcome = { kind: 'claimed'; cidr: string } | { kind: 'full' } | { kind: 'retry' };

const isDsError = (e: unknown, code: string): boolean => e instanceof DatastoreError && e.code === code;

export class IpamClient {
  private readonly retry: RetryPolicy;
  private readonly phaseDelay: () => Promise<void>;

  constructor(
    readonly backend: Backend,
    opts: IpamClientOptions = {},
  ) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    const d = opts.claimPhaseDelayMs ?? 0;
    this.phaseDelay = d > 0 ? () => new Promise((r) => setTimeout(r, d)) : () => Promise.resolve();
  }

  // ---------- reads ----------

  async getConfig(): Promise<IpamConfig> {
    const res = await this.backend.get(IPAM_CONFIG_RESOURCE_KEY);
    if (res) return parseIpamConfig(res.key, res.value);
    const v2 = await this.backend.get(IPAM_CONFIG_KEY);
    return v2 ? parseIpamConfig(v2.key, v2.value) : { ...DEFAULT_IPAM_CONFIG };
  }

  async setConfig(cfg: IpamConfig): Promise<void> {
    const cur = await this.backend.get(IPAM_CONFIG_KEY);
    const value = JSON.stringify(cfg);
    if (cur) await this.backend.update(IPAM_CONFIG_KEY, value, cur.modRevision);
    else await this.backend.create(IPAM_CONFIG_KEY, value);
  }

  /** Usable pools; malformed ones are skipped (they are reported by `ipam check`). */
  async listPools(): Promise<Pool[]> {
    const { items } = await this.backend.list(resourceListPrefix('ippools'));
    const out: Pool[] = [];
    for (const kv of items) {
      const p = poolFromResource(kv.key.slice(kv.key.lastIndexOf('/') + 1), kv.value);
      if (typeof p !== 'string') out.push(p);
    }
    return out;
  }

  async nodeLabels(host: string): Promise<Record<string, string>> {
    const kv = await this.backend.get(resourceKey('nodes', host));
    if (!kv) return {};
    try {
      const o = JSON.parse(kv.value) as { metadata?: { labels?: Record<string, string> } };
      return o.metadata?.labels ?? {};
    } catch {
      return {};
    }
  }

  async getBlock(cidr: string): Promise<{ kv: KV; block: AllocationBlock } | undefined> {
    const key = ipamBlockKey(cidr, familyOf(cidr));
    const kv = await this.backend.get(key);
    return kv ? { kv, block: parseBlock(key, kv.value) } : undefined;
  }

  async getHandle(handleId: string): Promise<{ kv: KV; handle: IpamHandle } | undefined> {
    const key = ipamHandleKey(handleId);
    const kv = await this.backend.get(key);
    return kv ? { kv, handle: parseHandle(key, kv.value) } : undefined;
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

  /** Affinities of one host and family: cidr → state and KV. */
  async hostAffinities(host: string, family: Family): Promise<{ cidr: string; state: AffinityState; kv: KV }[]> {
    const prefix = `${hostAffinityPrefix(host)}ipv${family}/block/`;
    const { items } = await this.backend.list(prefix);
    return items.map((kv) => ({ cidr: keyPartToCidr(kv.key.slice(prefix.length)), state: parseAffinity(kv.key, kv.value).state, kv }));
  }

  // ---------- assignment ----------

  /** Assigns num4 IPv4 and num6 IPv6 addresses to a handle: all of them or none (throws Exhausted). */
  async autoAssign(args: AssignArgs): Promise<{ ipv4: AssignedIp[]; ipv6: AssignedIp[] }> {
    const use = args.use ?? 'Workload';
    const [pools, labels] = await Promise.all([this.listPools(), this.nodeLabels(args.hostname)]);
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
        if (candidates.length === 0) throw new IpamError('NoPool', `no enabled IPv${family} pool allows ${use} on node "${args.hostname}"`);
        const ips = await this.assignFamily(family, num, args.hostname, candidates, attr);
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

  private async assignFamily(family: Family, num: number, host: string, pools: Pool[], attr: AllocationAttribute): Promise<AssignedIp[]> {
    const out: AssignedIp[] = [];
    const inPools = (cidr: string): boolean => {
      const c = parseCidr(cidr);
      return pools.some((p) => contains(p.cidr, c.family, c.base) && c.prefix === p.blockSize);
    };
    let config: IpamConfig | undefined;
    for (let round = 0; round < this.retry.attempts && out.length < num; round++) {
      // 1. Blocks affine to this host.
      const affs = await this.hostAffinities(host, family);
      let affine = 0;
      for (const a of affs) {
        if (!inPools(a.cidr) || a.state === 'pendingDeletion') continue;
        if (a.state === 'pending' && !(await this.confirmIfOurs(host, a.cidr, a.kv))) continue;
        affine++;
        if (out.length < num) out.push(...(await this.assignInBlock(a.cidr, num - out.length, attr, (b) => b.affinity === hostAffinity(host))));
      }
      if (out.length >= num) break;
      // 2. Claim a new block.
      config ??= await this.getConfig();
      if (config.autoAllocateBlocks && (config.maxBlocksPerHost === 0 || affine < config.maxBlocksPerHost)) {
        const c = await this.claimFreeBlock(host, pools);
        if (c.kind === 'claimed') continue; // go round: allocate from it as an affine block
        if (c.kind === 'retry') {
          // Lost a race for the index: back off before looking again, so contenders spread out.
          await new Promise((r) => setTimeout(r, Math.random() * this.retry.backoffMs * Math.min(round + 1, 20)));
          continue;
        }
      }
      // 3. Borrow from any block in the pools, unless strict affinity forbids it.
      if (!config.strictAffinity) out.push(...(await this.borrow(family, num - out.length, host, inPools, attr)));
      break;
    }
    return out;
  }

  /** A pending affinity whose block exists with our affinity was left by a claimer that died before confirming. */
  private async confirmIfOurs(host: string, cidr: string, aff: KV): Promise<boolean> {
    const b = await this.getBlock(cidr);
    if (!b || b.block.affinity !== hostAffinity(host)) return false;
    try {
      await this.backend.update(aff.key, JSON.stringify({ state: 'confirmed', deleted: false }), aff.modRevision);
    } catch (e) {
      if (!isDsError(e, 'Conflict') && !isDsError(e, 'NotFound')) throw e;
    }
    return true;
  }

  private async borrow(family: Family, num: number, host: string, inPools: (c: string) => boolean, attr: AllocationAttribute): Promise<AssignedIp[]> {
    const out: AssignedIp[] = [];
    const prefix = ipamBlockPrefix(family);
    const { items } = await this.backend.list(prefix);
    for (const kv of items) {
      if (out.length >= num) break;
      const cidr = keyPartToCidr(kv.key.slice(prefix.length));
      if (!inPools(cidr)) continue;
      const b = parseBlock(kv.key, kv.value);
      if (freeCount(b) === 0) continue;
      void host;
      out.push(...(await this.assignInBlock(cidr, num - out.length, attr, () => true)));
    }
    return out;
  }

  /** Takes up to num addresses from one block, updating block and handle in one transaction. */
  private async assignInBlock(cidr: string, num: number, attr: AllocationAttribute, stillOk: (b: AllocationBlock) => boolean): Promise<AssignedIp[]> {
    const handleId = attr.handle_id ?? '';
    return withRetries(`assign in block ${cidr}`, this.retry, async () => {
      const [b, h] = await Promise.all([this.getBlock(cidr), this.getHandle(handleId)]);
      if (!b || !stillOk(b.block) || freeCount(b.block) === 0) return [];
      const { block, assigned } = assignFromBlock(b.block, num, attr);
      const ok = await this.commitBlockAndHandle(b.kv, block, handleId, h, assigned.length);
      if (!ok) return RETRY;
      return assigned.map((a) => ({
        ip: ordinalToIp(block, a.ordinal),
        family: familyOf(cidr),
        block: cidr,
        ordinal: a.ordinal,
        sequenceNumber: a.sequenceNumber,
      }));
    });
  }

  /** One txn: the block's new contents and the handle's count for it move together, so neither can leak. */
  private async commitBlockAndHandle(
    blockKv: KV,
    block: AllocationBlock,
    handleId: string,
    h: { kv: KV; handle: IpamHandle } | undefined,
    delta: number,
  ): Promise<boolean> {
    const compares: TxnCompare[] = [{ key: blockKv.key, modRevision: blockKv.modRevision }];
    const ops: TxnOp[] = [{ type: 'put', key: blockKv.key, value: JSON.stringify(block) }];
    if (handleId) {
      const hkey = ipamHandleKey(handleId);
      compares.push({ key: hkey, modRevision: h?.kv.modRevision ?? 0 });
      const handle: IpamHandle = h ? { ...h.handle, block: { ...h.handle.block } } : { handleID: handleId, block: {}, deleted: false };
      const n = (handle.block[block.cidr] ?? 0) + delta;
      if (n > 0) handle.block[block.cidr] = n;
      else delete handle.block[block.cidr];
      if (Object.keys(handle.block).length === 0) {
        if (h) ops.push({ type: 'delete', key: hkey });
      } else ops.push({ type: 'put', key: hkey, value: JSON.stringify(handle) });
    }
    return (await this.backend.txn(compares, ops)).succeeded;
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
    const blockCidr = formatCidr(blockOf(addr.family, addr.value, pool.blockSize));
    const attr: AllocationAttribute = { handle_id: handleId, secondary: attrs ?? null };
    return withRetries(`assign ${ip}`, this.retry, async () => {
      const [b, h] = await Promise.all([this.getBlock(blockCidr), this.getHandle(handleId)]);
      if (!b) {
        const c = await this.claimBlock(hostname, pool, blockIndex(pool.cidr, parseCidr(blockCidr)));
        if (c.kind === 'full') throw new IpamError('InUse', `block ${blockCidr} for ${ip} cannot be claimed`);
        return RETRY;
      }
      const ord = Number(addr.value - parseCidr(blockCidr).base);
      const r = assignOrdinal(b.block, ord, attr);
      if (!r) throw new IpamError('InUse', `requested IP ${ip} is already in use`);
      if (!(await this.commitBlockAndHandle(b.kv, r.block, handleId, h, 1))) return RETRY;
      return { ip, family: addr.family, block: blockCidr, ordinal: ord, sequenceNumber: r.assigned.sequenceNumber };
    });
  }

  // ---------- block claim (two phases over the index) ----------

  /** Claims the first unclaimed block of the first pool that has one (index lookup, no scan). */
  async claimFreeBlock(host: string, pools: Pool[]): Promise<ClaimOutcome> {
    for (const pool of pools) {
      const windows = windowCount(pool.cidr, pool.blockSize);
      for (let w = 0n; w < windows; w++) {
        const idx = await this.readWindow(pool, w);
        const n = firstClear(idx.window);
        if (n < 0) continue;
        const r = await this.claimBlock(host, pool, w * WINDOW_BLOCKS + BigInt(n), idx);
        if (r.kind !== 'full') return r;
      }
    }
    return { kind: 'full' };
  }

  private async readWindow(pool: Pool, w: bigint): Promise<{ key: string; rev: number; window: ReturnType<typeof emptyWindow> }> {
    const key = blockIndexKey(pool.cidr, pool.blockSize, w);
    const kv = await this.backend.get(key);
    return { key, rev: kv?.modRevision ?? 0, window: kv ? parseWindow(key, kv.value) : emptyWindow(pool.cidr, pool.blockSize, w) };
  }

  /**
   * Claims block n of a pool for a host: affinity pending → (block create + index bit) in one txn →
   * affinity confirmed. 'full' means that block is taken for good; 'retry' means go round and look again.
   */
  async claimBlock(
    host: string,
    pool: Pool,
    n: bigint,
    known?: { key: string; rev: number; window: ReturnType<typeof emptyWindow> },
  ): Promise<ClaimOutcome> {
    const w = n / WINDOW_BLOCKS;
    const bit = Number(n % WINDOW_BLOCKS);
    const idx = known ?? (await this.readWindow(pool, w));
    const cidr = nthBlock(pool.cidr, pool.blockSize, n);
    const cidrText = formatCidr(cidr);
    const family = cidr.family;
    const blockKey = ipamBlockKey(cidrText, family);
    const affKey = blockAffinityKey(host, cidrText, family);
    // Phase 1: pending affinity. A pending affinity of our own host with no block is taken over: it was
    // left by a claimer that died, or belongs to a live one on the same host (then exactly one txn wins).
    let aff: KV;
    try {
      aff = await this.backend.create(affKey, JSON.stringify({ state: 'pending', deleted: false }));
    } catch (e) {
      if (!isDsError(e, 'AlreadyExists')) throw e;
      const cur = await this.backend.get(affKey);
      if (!cur) return { kind: 'retry' };
      if (parseAffinity(affKey, cur.value).state !== 'pending') return this.repairIndex(idx, bit, blockKey);
      aff = cur;
    }
    await this.phaseDelay();
    // Phase 2: the block and its index bit, only if the block is absent, the index unchanged, the affinity ours.
    const indexValue = JSON.stringify(withBit(idx.window, bit, true));
    const block = newBlock(cidr, hostAffinity(host));
    const r = await this.backend.txn(
      [
        { key: blockKey, modRevision: 0 },
        { key: idx.key, modRevision: idx.rev },
        { key: affKey, modRevision: aff.modRevision },
      ],
      [
        { type: 'put', key: blockKey, value: JSON.stringify(block) },
        { type: 'put', key: idx.key, value: indexValue },
      ],
    );
    if (!r.succeeded) {
      const existing = await this.getBlock(cidrText);
      if (existing && existing.block.affinity === hostAffinity(host)) {
        await this.confirmIfOurs(host, cidrText, (await this.backend.get(affKey)) ?? aff);
        return { kind: 'claimed', cidr: cidrText };
      }
      await this.backend.delete(affKey, aff.modRevision).catch(() => undefined);
      if (existing) await this.repairIndex(await this.readWindow(pool, w), bit, blockKey);
      return { kind: 'retry' };
    }
    await this.phaseDelay();
    // Phase 3: confirm. If this fails the block still carries our affinity and the next pass confirms it.
    await this.backend.update(affKey, JSON.stringify({ state: 'confirmed', deleted: false }), aff.modRevision).catch(() => undefined);
    return { kind: 'claimed', cidr: cidrText };
  }

  /** A block that exists while its index bit is clear (written by another tool): set the bit. */
  private async repairIndex(idx: { key: string; rev: number; window: ReturnType<typeof emptyWindow> }, bit: number, blockKey: string): Promise<ClaimOutcome> {
    await this.backend
      .txn(
        [
          { key: idx.key, modRevision: idx.rev },
          { key: blockKey, modRevision: (await this.backend.get(blockKey))?.modRevision ?? 0 },
        ],
        [{ type: 'put', key: idx.key, value: JSON.stringify(withBit(idx.window, bit, true)) }],
      )
      .catch(() => undefined);
    return { kind: 'retry' };
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
        const hit = allBlocks.map(parseCidr).find((c) => contains(c, addr.family, addr.value));
        blockCidr = hit;
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
    const out: string[] = [];
    for (const f of [4, 6] as const) {
      const prefix = ipamBlockPrefix(f);
      const { items } = await this.backend.list(prefix);
      for (const kv of items) out.push(keyPartToCidr(kv.key.slice(prefix.length)));
    }
    return out;
  }

  private async releaseInBlock(
    cidr: string,
    reqs: { ordinal: number; ip: string; sequenceNumber?: number }[],
  ): Promise<ReleaseReport | Retry> {
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
    // Decrement every affected handle in the same txn as the block write.
    const counts = new Map<string, number>();
    for (const r of out.released) if (r.handle) counts.set(r.handle, (counts.get(r.handle) ?? 0) + 1);
    const handles = await Promise.all([...counts.keys()].map(async (id) => ({ id, h: await this.getHandle(id) })));
    const compares: TxnCompare[] = [{ key: b.kv.key, modRevision: b.kv.modRevision }];
    const ops: TxnOp[] = [{ type: 'put', key: b.kv.key, value: JSON.stringify(out.block) }];
    for (const { id, h } of handles) {
      if (!h) continue; // a handle that was never written (foreign data): nothing to decrement
      compares.push({ key: h.kv.key, modRevision: h.kv.modRevision });
      const block = { ...h.handle.block };
      const n = (block[cidr] ?? 0) - (counts.get(id) ?? 0);
      if (n > 0) block[cidr] = n;
      else delete block[cidr];
      if (Object.keys(block).length === 0) ops.push({ type: 'delete', key: h.kv.key });
      else ops.push({ type: 'put', key: h.kv.key, value: JSON.stringify({ ...h.handle, block }) });
    }
    return (await this.backend.txn(compares, ops)).succeeded ? report : RETRY;
  }

  /** Releases every address of a handle; idempotent (an unknown handle releases nothing). */
  async releaseByHandle(handleId: string): Promise<string[]> {
    const released: string[] = [];
    const h0 = await this.getHandle(handleId);
    if (!h0) return released;
    for (const cidr of Object.keys(h0.handle.block)) {
      const ips = await withRetries(`release handle ${handleId} in ${cidr}`, this.retry, async () => {
        const [b, h] = await Promise.all([this.getBlock(cidr), this.getHandle(handleId)]);
        if (!h) return [];
        const ords = b ? ordinalsOfHandle(b.block, handleId) : [];
        const block = { ...h.handle.block };
        delete block[cidr];
        const compares: TxnCompare[] = [{ key: h.kv.key, modRevision: h.kv.modRevision }];
        const ops: TxnOp[] = [
          Object.keys(block).length === 0
            ? { type: 'delete', key: h.kv.key }
            : { type: 'put', key: h.kv.key, value: JSON.stringify({ ...h.handle, block }) },
        ];
        let ips: string[] = [];
        if (b && ords.length > 0) {
          const out = releaseFromBlock(b.block, ords.map((ordinal) => ({ ordinal })));
          compares.push({ key: b.kv.key, modRevision: b.kv.modRevision });
          ops.push({ type: 'put', key: b.kv.key, value: JSON.stringify(out.block) });
          ips = ords.map((o) => ordinalToIp(b.block, o));
        }
        return (await this.backend.txn(compares, ops)).succeeded ? ips : RETRY;
      });
      released.push(...ips);
    }
    return released;
  }

  /**
   * Releases a host's affinity for a block, and the block itself if it is empty and carries that affinity.
   * Affinity goes to pendingDeletion first so allocators on the host stop using it; a block that is not
   * empty puts the affinity back to confirmed. Returns whether the affinity is gone.
   */
  async releaseAffinity(host: string, cidr: string): Promise<boolean> {
    const family = familyOf(cidr);
    const affKey = blockAffinityKey(host, cidr, family);
    return withRetries(`release affinity ${host} ${cidr}`, this.retry, async () => {
      const aff = await this.backend.get(affKey);
      if (!aff) return true;
      let pd: KV;
      try {
        pd = await this.backend.update(affKey, JSON.stringify({ state: 'pendingDeletion', deleted: false }), aff.modRevision);
      } catch (e) {
        if (isDsError(e, 'Conflict') || isDsError(e, 'NotFound')) return RETRY;
        throw e;
      }
      const b = await this.getBlock(cidr);
      if (b && b.block.affinity === hostAffinity(host) && !isEmpty(b.block)) {
        await this.backend.update(affKey, JSON.stringify({ state: 'confirmed', deleted: false }), pd.modRevision).catch(() => undefined);
        return false;
      }
      const compares: TxnCompare[] = [{ key: affKey, modRevision: pd.modRevision }];
      const ops: TxnOp[] = [{ type: 'delete', key: affKey }];
      if (b && b.block.affinity === hostAffinity(host)) {
        const pools = await this.listPools();
        const c = parseCidr(cidr);
        const pool = pools.find((p) => contains(p.cidr, c.family, c.base) && p.blockSize === c.prefix);
        compares.push({ key: b.kv.key, modRevision: b.kv.modRevision });
        ops.push({ type: 'delete', key: b.kv.key });
        if (pool) {
          const n = blockIndex(pool.cidr, c);
          const idx = await this.readWindow(pool, n / WINDOW_BLOCKS);
          compares.push({ key: idx.key, modRevision: idx.rev });
          ops.push({ type: 'put', key: idx.key, value: JSON.stringify(withBit(idx.window, Number(n % WINDOW_BLOCKS), false)) });
        }
      }
      return (await this.backend.txn(compares, ops)).succeeded ? true : RETRY;
    });
  }

  /** Releases every affinity of a host (node deleted); non-empty blocks keep their allocations. */
  async releaseHostAffinities(host: string): Promise<{ released: string[]; kept: string[] }> {
    const out = { released: [] as string[], kept: [] as string[] };
    for (const f of [4, 6] as const) {
      for (const a of await this.hostAffinities(host, f)) {
        if (await this.releaseAffinity(host, a.cidr)) out.released.push(a.cidr);
        else out.kept.push(a.cidr);
      }
    }
    return out;
  }
}

export function familyOf(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}

export { affinityHost };
