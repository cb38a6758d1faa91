// Claiming a block for a host without a transaction, as libcalico-go does on both datastores:
// affinity pending → block created (create-if-absent: of two claimers exactly one wins) → affinity
// confirmed. A claimer that dies between the steps leaves a pending affinity that the next claimer
// on the host, or the GC, finishes or removes.
import type { Store, StoredObject } from '../datastore/store.js';
import { newBlock } from './block.js';
import { type Cidr, blockCount, formatCidr, nthBlock } from './cidr.js';
import { hostAffinity, parseAffinity } from './model.js';
import type { Pool } from './pools.js';
import { affinityKey, affinityValue, blockValue, isCasMiss, isDsError, listBlockCidrs, readBlock, what } from './records.js';
import { NO_RESERVATIONS, type Reservations } from './reservations.js';

/** 'full': the block is someone else's for good; 'retry': go round and look again. */
export type ClaimOutcome = { kind: 'claimed'; cidr: string } | { kind: 'full' } | { kind: 'retry' };

/** Test hook: a pause between the phases, to widen the race windows. */
export type PhaseDelay = () => Promise<void>;
const noDelay: PhaseDelay = () => Promise.resolve();

/**
 * Claims an unclaimed block of the first pool that has one, found by listing the blocks (as Calico
 * does). The first unclaimed block is taken, keeping pools compact; after losing a race (`spread`)
 * the search starts at a random block, so concurrent claimers stop colliding.
 */
export async function claimFreeBlock(store: Store, host: string, pools: Pool[], spread = false, reserved: Reservations = NO_RESERVATIONS, phaseDelay = noDelay): Promise<ClaimOutcome> {
  // The datastore's cache answers the first look (on Kubernetes no read through to etcd of every
  // block): a block it has not seen yet only makes our create-if-absent fail, and the look after a
  // lost race reads current; "full" is only said after a current read too (a block deleted a moment
  // ago may still be cached).
  for (const cached of spread ? [false] : [true, false]) {
    const existing = new Set(await listBlockCidrs(store, { cached }));
    for (const pool of pools) {
      const cidr = firstFreeBlock(pool, existing, spread ? randomBigInt(blockCount(pool.cidr, pool.blockSize)) : 0n, (c) => reserved.coversBlock(c));
      if (cidr) return claimBlock(store, host, cidr, phaseDelay);
    }
  }
  return { kind: 'full' };
}

/** Claims one block for a host (see the top of this file). */
export async function claimBlock(store: Store, host: string, cidr: Cidr, phaseDelay = noDelay): Promise<ClaimOutcome> {
  const cidrText = formatCidr(cidr);
  // Phase 1: pending affinity. One of our own host's that is still pending was left by a claimer
  // that died, or belongs to a live one on this host: either way the block create below decides.
  let aff: StoredObject;
  try {
    aff = await store.create(affinityValue(host, cidrText, 'pending'));
  } catch (e) {
    if (!isDsError(e, 'AlreadyExists')) throw e;
    const cur = await store.get(affinityKey(host, cidrText));
    if (!cur) return { kind: 'retry' };
    aff = cur;
  }
  await phaseDelay();
  // Phase 2: the block, only if absent.
  try {
    await store.create(blockValue(newBlock(cidr, hostAffinity(host))));
  } catch (e) {
    if (!isDsError(e, 'AlreadyExists')) throw e;
    const existing = await readBlock(store, cidrText);
    if (existing && existing.block.affinity === hostAffinity(host)) {
      await confirmIfOurs(store, host, cidrText, (await store.get(aff.key)) ?? aff);
      return { kind: 'claimed', cidr: cidrText };
    }
    // Someone else's block: our pending affinity goes (unless it moved on, then it is not ours to remove).
    if (parseAffinity(what(aff), aff.value.spec).state === 'pending') await store.delete(aff.key, aff.revision).catch(() => undefined);
    return { kind: 'retry' };
  }
  await phaseDelay();
  // Phase 3: confirm. If the GC removed our pending affinity meanwhile, the block is still ours:
  // write the affinity again, confirmed.
  await store.update(affinityValue(host, cidrText, 'confirmed'), aff.revision).catch(async (e: unknown) => {
    if (isDsError(e, 'NotFound')) await store.create(affinityValue(host, cidrText, 'confirmed')).catch(() => undefined);
  });
  return { kind: 'claimed', cidr: cidrText };
}

/** A pending affinity whose block exists with our affinity was left by a claimer that died before confirming. */
export async function confirmIfOurs(store: Store, host: string, cidr: string, aff: StoredObject): Promise<boolean> {
  const b = await readBlock(store, cidr);
  if (!b || b.block.affinity !== hostAffinity(host)) return false;
  try {
    await store.update(affinityValue(host, cidr, 'confirmed'), aff.revision);
  } catch (e) {
    if (!isCasMiss(e)) throw e;
  }
  return true;
}

/** The first block of a pool, from index `start` on (wrapping), that is not in `existing` nor wholly reserved. */
export function firstFreeBlock(pool: Pool, existing: ReadonlySet<string>, start = 0n, whollyReserved: (c: Cidr) => boolean = () => false): Cidr | undefined {
  const total = blockCount(pool.cidr, pool.blockSize);
  // Only as many candidates need looking at as there are existing blocks plus one, plus the reserved ones passed over.
  let limit = BigInt(existing.size) + 1n;
  for (let k = 0n; k < limit && k < total; k++) {
    const c = nthBlock(pool.cidr, pool.blockSize, (start + k) % total);
    if (whollyReserved(c)) limit++;
    else if (!existing.has(formatCidr(c))) return c;
  }
  return undefined;
}

function randomBigInt(below: bigint): bigint {
  if (below <= 1n) return 0n;
  let r = 0n;
  for (let i = 0; i < 4; i++) r = (r << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32));
  return r % below;
}
