// Node registration and the default pool: create-if-absent and compare-and-swap updates, so two
// agents (or an agent and tortiectl) never overwrite each other's fields.
import { randomBytes } from 'node:crypto';
import { DatastoreError, type Backend } from '../datastore/backend.js';
import { resourceKey, resourceListPrefix } from '../datastore/keys.js';
import type { DefaultPool } from './env.js';

type Json = Record<string, unknown>;

/**
 * Merges `patch` into the Node's spec (creating the Node if needed), retrying on conflict. `labels`
 * are merged into metadata.labels (tortie-rr labels itself route-reflector=true).
 */
export async function upsertNode(backend: Backend, name: string, patch: (spec: Json) => Json, labels?: Record<string, string>): Promise<Json> {
  const key = resourceKey('nodes', name);
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await backend.get(key);
    const doc: Json = cur ? (JSON.parse(cur.value) as Json) : { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, creationTimestamp: new Date().toISOString() }, spec: {} };
    const spec = patch({ ...((doc.spec as Json | undefined) ?? {}) });
    const meta = (doc.metadata as Json | undefined) ?? {};
    const metadata = labels ? { ...meta, labels: { ...((meta.labels as Record<string, string> | undefined) ?? {}), ...labels } } : meta;
    const next = JSON.stringify({ ...doc, metadata, spec });
    try {
      if (!cur) await backend.create(key, next);
      else if (next !== cur.value) await backend.update(key, next, cur.modRevision);
      return spec;
    } catch (e) {
      if (e instanceof DatastoreError && (e.code === 'Conflict' || e.code === 'AlreadyExists')) continue;
      throw e;
    }
  }
  throw new Error(`node ${name}: too many conflicting updates`);
}

/** Creates the default pool when no pool exists at all (as calico-node does at start). */
export async function ensureDefaultPool(backend: Backend, pool: DefaultPool): Promise<boolean> {
  const { items } = await backend.list(resourceListPrefix('ippools'));
  if (items.length) return false;
  const doc = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'default-ipv4-ippool', creationTimestamp: new Date().toISOString() },
    spec: { cidr: pool.cidr, blockSize: pool.blockSize, ipipMode: pool.ipipMode, vxlanMode: pool.vxlanMode, natOutgoing: pool.natOutgoing, nodeSelector: 'all()' },
  };
  try {
    await backend.create(resourceKey('ippools', 'default-ipv4-ippool'), JSON.stringify(doc));
    return true;
  } catch (e) {
    if (e instanceof DatastoreError && e.code === 'AlreadyExists') return false;
    throw e;
  }
}

/** A random locally administered unicast MAC, as Calico picks for a VTEP. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
