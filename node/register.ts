// Node registration and the default pool: create-if-absent and compare-and-swap updates, so two
// agents (or an agent and tortiectl) never overwrite each other's fields.
import { randomBytes } from 'node:crypto';
import { DatastoreError } from '../datastore/store.js';
import type { Store, StoredValue } from '../datastore/store.js';
import type { DefaultPool } from './env.js';

type Json = Record<string, unknown>;

/**
 * Merges `patch` into the Node's spec (creating the Node if needed), retrying on conflict. `labels`
 * are merged into metadata.labels (tortie-rr labels itself route-reflector=true).
 */
export async function upsertNode(store: Store, name: string, patch: (spec: Json) => Json, labels?: Record<string, string>): Promise<Json> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await store.get({ kind: 'Node', name });
    const doc: StoredValue = cur?.value ?? { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, creationTimestamp: new Date().toISOString() }, spec: {} };
    const spec = patch({ ...((doc.spec as Json | undefined) ?? {}) });
    const meta = doc.metadata;
    const metadata = labels ? { ...meta, labels: { ...(meta.labels ?? {}), ...labels } } : meta;
    const next: StoredValue = { ...doc, metadata, spec };
    try {
      if (!cur) await store.create(next);
      else if (JSON.stringify(next) !== JSON.stringify(cur.value)) await store.update(next, cur.revision);
      return spec;
    } catch (e) {
      if (e instanceof DatastoreError && (e.code === 'Conflict' || e.code === 'AlreadyExists')) continue;
      throw e;
    }
  }
  throw new Error(`node ${name}: too many conflicting updates`);
}

/** A random ULA /48 (RFC 4193: fd00::/8 and a 40-bit random global id), as calico-node picks for its IPv6 pool. */
export function randomUla48(): string {
  const g = randomBytes(5).toString('hex');
  return `fd${g.slice(0, 2)}:${g.slice(2, 6)}:${g.slice(6, 10)}::/48`;
}

/**
 * Creates the default pool of the family when no pool of that family exists (as calico-node does at
 * start): default-ipv4-ippool, or default-ipv6-ippool for `family` 6.
 */
export async function ensureDefaultPool(store: Store, pool: DefaultPool, family: 4 | 6 = 4): Promise<string | undefined> {
  const { items } = await store.list('IPPool');
  const cidrOf = (v: StoredValue): string => String((v.spec as Json | undefined)?.cidr ?? '');
  if (items.some((o) => cidrOf(o.value).includes(':') === (family === 6))) return undefined;
  const cidr = pool.cidr || randomUla48();
  const doc: StoredValue = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: `default-ipv${family}-ippool`, creationTimestamp: new Date().toISOString() },
    spec: { cidr, blockSize: pool.blockSize, ipipMode: pool.ipipMode, vxlanMode: pool.vxlanMode, natOutgoing: pool.natOutgoing, nodeSelector: 'all()' },
  };
  try {
    await store.create(doc);
    return cidr;
  } catch (e) {
    if (e instanceof DatastoreError && e.code === 'AlreadyExists') return undefined;
    throw e;
  }
}

/** A random locally administered unicast MAC, as Calico picks for a VTEP. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
