// How IPAM's objects are named and written in the datastore (Calico's kinds: IPAMBlock,
// BlockAffinity, IPAMHandle, IPAMConfig), and the read of a block every IPAM step starts from.
import { affinityName, blockName } from '../datastore/keys.js';
import { API_VERSION } from '../datastore/model/resource.js';
import { DatastoreError, type ObjectKey, type ReadOptions, type Store, type StoredObject, type StoredValue } from '../datastore/store.js';
import type { Family } from './cidr.js';
import { parseBlock, type AffinityState, type AllocationBlock, type IpamHandle } from './model.js';

export const isDsError = (e: unknown, code: string): boolean => e instanceof DatastoreError && e.code === code;
/** A lost race or a vanished object: the step is retried on a fresh read. */
export const isCasMiss = (e: unknown): boolean => isDsError(e, 'Conflict') || isDsError(e, 'NotFound');

export const blockKey = (cidr: string): ObjectKey => ({ kind: 'IPAMBlock', name: blockName(cidr) });
export const affinityKey = (host: string, cidr: string): ObjectKey => ({ kind: 'BlockAffinity', name: affinityName(host, cidr) });
export const handleKey = (handleId: string): ObjectKey => ({ kind: 'IPAMHandle', name: handleId });
export const CONFIG_KEY: ObjectKey = { kind: 'IPAMConfig', name: 'default' };

export function blockValue(block: AllocationBlock): StoredValue {
  return { apiVersion: API_VERSION, kind: 'IPAMBlock', metadata: { name: blockName(block.cidr) }, spec: block };
}

export function affinityValue(host: string, cidr: string, state: AffinityState): StoredValue {
  return { apiVersion: API_VERSION, kind: 'BlockAffinity', metadata: { name: affinityName(host, cidr) }, spec: { state, node: host, cidr, type: 'host', deleted: 'false' } };
}

export function handleValue(h: IpamHandle): StoredValue {
  return { apiVersion: API_VERSION, kind: 'IPAMHandle', metadata: { name: h.handleID }, spec: { handleID: h.handleID, block: h.block, deleted: h.deleted } };
}

/** For error messages: "IPAMBlock(10-0-0-0-26)". */
export const what = (o: StoredObject): string => `${o.key.kind}(${o.key.name})`;

export interface StoredBlock {
  obj: StoredObject;
  block: AllocationBlock;
}

export interface StoredHandle {
  obj: StoredObject;
  handle: IpamHandle;
}

export async function readBlock(store: Store, cidr: string): Promise<StoredBlock | undefined> {
  const o = await store.get(blockKey(cidr));
  return o ? { obj: o, block: parseBlock(what(o), o.value.spec) } : undefined;
}

/** The CIDR of every block in the datastore. */
export async function listBlockCidrs(store: Store, opts?: ReadOptions): Promise<string[]> {
  const { items } = await store.list('IPAMBlock', undefined, opts);
  const out: string[] = [];
  for (const o of items) {
    const cidr = (o.value.spec as { cidr?: unknown })?.cidr;
    if (typeof cidr === 'string') out.push(cidr);
  }
  return out;
}

export function familyOf(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}
