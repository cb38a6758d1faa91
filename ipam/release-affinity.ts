// Giving a block back: a host's affinity goes to pendingDeletion first so allocators on the host
// stop using it, then the block (only if empty and still ours), then the affinity. A block that is
// not empty keeps its allocations and its affinity goes back to confirmed.
import type { Store, StoredObject } from '../datastore/store.js';
import { isEmpty } from './block.js';
import type { Family } from './cidr.js';
import { hostAffinity, parseAffinity, type AffinityState } from './model.js';
import { affinityKey, affinityValue, familyOf, isCasMiss, readBlock, what } from './records.js';
import { RETRY, withRetries, type RetryPolicy } from './retry.js';

/** Affinities of one host and family. */
export async function hostAffinities(store: Store, host: string, family: Family): Promise<{ cidr: string; state: AffinityState; obj: StoredObject }[]> {
  const { items } = await store.list('BlockAffinity');
  const out: { cidr: string; state: AffinityState; obj: StoredObject }[] = [];
  for (const o of items) {
    const spec = o.value.spec as { node?: unknown; cidr?: unknown };
    if (spec?.node !== host || typeof spec.cidr !== 'string' || familyOf(spec.cidr) !== family) continue;
    out.push({ cidr: spec.cidr, state: parseAffinity(what(o), o.value.spec).state, obj: o });
  }
  return out;
}

/** Releases a host's affinity for a block, and the block if it is empty and ours. Returns whether the affinity is gone. */
export async function releaseAffinity(store: Store, retry: RetryPolicy, host: string, cidr: string): Promise<boolean> {
  return withRetries(`release affinity ${host} ${cidr}`, retry, async () => {
    const aff = await store.get(affinityKey(host, cidr));
    if (!aff) return true;
    let pd: StoredObject;
    try {
      pd = await store.update(affinityValue(host, cidr, 'pendingDeletion'), aff.revision);
    } catch (e) {
      if (isCasMiss(e)) return RETRY;
      throw e;
    }
    const b = await readBlock(store, cidr);
    const ours = b && b.block.affinity === hostAffinity(host);
    if (b && ours && !isEmpty(b.block)) {
      await store.update(affinityValue(host, cidr, 'confirmed'), pd.revision).catch(() => undefined);
      return false;
    }
    if (b && ours) {
      try {
        await store.delete(b.obj.key, b.obj.revision);
      } catch (e) {
        if (!isCasMiss(e)) throw e;
        // Someone allocated from it meanwhile: the affinity stays; look again.
        await store.update(affinityValue(host, cidr, 'confirmed'), pd.revision).catch(() => undefined);
        return RETRY;
      }
    }
    // A crash here leaves a pendingDeletion affinity without a block: the GC removes it.
    await store.delete(pd.key, pd.revision).catch((e: unknown) => {
      if (!isCasMiss(e)) throw e;
    });
    return true;
  });
}

/** Releases every affinity of a host (node deleted); non-empty blocks keep their allocations. */
export async function releaseHostAffinities(store: Store, retry: RetryPolicy, host: string): Promise<{ released: string[]; kept: string[] }> {
  const out = { released: [] as string[], kept: [] as string[] };
  for (const f of [4, 6] as const) {
    for (const a of await hostAffinities(store, host, f)) {
      if (await releaseAffinity(store, retry, host, a.cidr)) out.released.push(a.cidr);
      else out.kept.push(a.cidr);
    }
  }
  return out;
}
