// Calico's etcd layout, pure: which etcd key holds an object, and how the stored JSON maps to the
// model's { apiVersion, kind, metadata, spec }. Resources live under
// /calico/resources/v3/projectcalico.org/<plural>/[<ns>/]<name> as their whole v3 JSON; the IPAM kinds
// live at Calico's /calico/ipam/v2/ keys with only their spec stored (libcalico-go's v2 model).
import { DatastoreError } from './kv.js';
import {
  IPAM_CONFIG_KEY,
  IPAM_HANDLE_PREFIX,
  IPAM_PREFIX,
  blockAffinityKey,
  blockCidrFromName,
  ipamBlockKey,
  ipamHandleKey,
  keyPartToCidr,
  resourceKey,
  resourceListPrefix,
  affinityName,
  blockName,
} from '../keys.js';
import { API_VERSION } from '../model/resource.js';
import { lookupKind } from '../model/kinds.js';
import type { ObjectKey, StoredValue } from '../store.js';

export const IPAM_KINDS = new Set(['IPAMBlock', 'BlockAffinity', 'IPAMHandle', 'IPAMConfig']);

/** Where a kind's objects live: the prefix to list/watch and a test that a key under it is one of them. */
export interface KindLayout {
  kind: string;
  prefix: string;
  /** The object key of an etcd key under `prefix`, or undefined when the key is not this kind's. */
  keyOf(etcdKey: string): ObjectKey | undefined;
}

export function plural(kind: string): { plural: string; namespaced: boolean } {
  const info = lookupKind(kind);
  if (!info || info.kind !== kind) throw new DatastoreError('Invalid', `unknown resource kind '${kind}'`);
  return { plural: info.plural, namespaced: info.namespaced };
}

const BLOCK_KEY = /^\/calico\/ipam\/v2\/assignment\/ipv[46]\/block\/([^/]+)$/;
const AFFINITY_KEY = /^\/calico\/ipam\/v2\/host\/([^/]+)\/ipv[46]\/block\/([^/]+)$/;

export function kindLayout(kind: string, namespace?: string): KindLayout {
  switch (kind) {
    case 'IPAMBlock':
      return {
        kind,
        prefix: `${IPAM_PREFIX}assignment/`,
        keyOf: (k) => {
          const m = BLOCK_KEY.exec(k);
          return m ? { kind, name: blockName(keyPartToCidr(m[1])) } : undefined;
        },
      };
    case 'BlockAffinity':
      return {
        kind,
        prefix: `${IPAM_PREFIX}host/`,
        keyOf: (k) => {
          const m = AFFINITY_KEY.exec(k);
          return m ? { kind, name: affinityName(m[1], keyPartToCidr(m[2])) } : undefined;
        },
      };
    case 'IPAMHandle':
      return { kind, prefix: IPAM_HANDLE_PREFIX, keyOf: (k) => (k.length > IPAM_HANDLE_PREFIX.length && !k.slice(IPAM_HANDLE_PREFIX.length).includes('/') ? { kind, name: k.slice(IPAM_HANDLE_PREFIX.length) } : undefined) };
    case 'IPAMConfig':
      return { kind, prefix: IPAM_CONFIG_KEY, keyOf: (k) => (k === IPAM_CONFIG_KEY ? { kind, name: 'default' } : undefined) };
    default: {
      const p = plural(kind);
      const all = resourceListPrefix(p.plural);
      return {
        kind,
        prefix: resourceListPrefix(p.plural, p.namespaced ? namespace : undefined),
        keyOf: (k) => {
          if (!k.startsWith(all)) return undefined;
          const rest = k.slice(all.length).split('/');
          if (p.namespaced) return rest.length === 2 && rest[0] && rest[1] ? { kind, namespace: rest[0], name: rest[1] } : undefined;
          return rest.length === 1 && rest[0] ? { kind, name: rest[0] } : undefined;
        },
      };
    }
  }
}

/**
 * The etcd keys that may hold an object. One, except for an IPv6 BlockAffinity, whose name
 * `<node>-<cidr with ':' and '/' as '-'>` can split between node and CIDR in more than one place:
 * the caller reads each candidate (the node is part of the etcd key, so at most one exists).
 */
export function candidateKeys(key: ObjectKey): string[] {
  switch (key.kind) {
    case 'IPAMBlock': {
      const cidr = blockCidrFromName(key.name);
      if (!cidr) throw new DatastoreError('Invalid', `IPAMBlock name '${key.name}' does not name a CIDR (like 10-244-0-0-26)`);
      return [ipamBlockKey(cidr, cidr.includes(':') ? 6 : 4)];
    }
    case 'BlockAffinity': {
      const out: string[] = [];
      const parts = key.name.split('-');
      for (let i = 1; i < parts.length; i++) {
        const host = parts.slice(0, i).join('-');
        const cidr = blockCidrFromName(parts.slice(i).join('-'));
        if (cidr && /^[a-z0-9]/.test(host)) out.push(blockAffinityKey(host, cidr, cidr.includes(':') ? 6 : 4));
      }
      if (out.length === 0) throw new DatastoreError('Invalid', `BlockAffinity name '${key.name}' is not <node>-<block CIDR name>`);
      return out;
    }
    case 'IPAMHandle':
      if (!key.name || key.name.includes('/')) throw new DatastoreError('Invalid', `IPAMHandle name '${key.name}' must be non-empty and contain no '/'`);
      return [ipamHandleKey(key.name)];
    case 'IPAMConfig':
      if (key.name !== 'default') throw new DatastoreError('Invalid', `IPAMConfig must be named 'default', not '${key.name}'`);
      return [IPAM_CONFIG_KEY];
    default: {
      const p = plural(key.kind);
      if (!key.name || key.name.includes('/')) throw new DatastoreError('Invalid', `${key.kind} name '${key.name}' must be non-empty and contain no '/'`);
      if (p.namespaced && !key.namespace) throw new DatastoreError('Invalid', `${key.kind} '${key.name}' needs a namespace`);
      return [resourceKey(p.plural, key.name, p.namespaced ? key.namespace : undefined)];
    }
  }
}

/** The one etcd key a value is written to (its spec settles the BlockAffinity's node and CIDR). */
export function keyForValue(v: StoredValue): { key: ObjectKey; etcdKey: string } {
  const key: ObjectKey = { kind: v.kind, name: v.metadata?.name ?? '', ...(v.metadata?.namespace ? { namespace: v.metadata.namespace } : {}) };
  if (v.kind === 'BlockAffinity') {
    const s = specObject(v);
    const node = s.node;
    const cidr = s.cidr;
    if (typeof node !== 'string' || typeof cidr !== 'string') throw new DatastoreError('Invalid', `BlockAffinity '${key.name}': spec.node and spec.cidr are required`);
    if (affinityName(node, cidr) !== key.name) throw new DatastoreError('Invalid', `BlockAffinity '${key.name}' must be named ${affinityName(node, cidr)} (node-cidr)`);
    return { key, etcdKey: blockAffinityKey(node, cidr, cidr.includes(':') ? 6 : 4) };
  }
  return { key, etcdKey: candidateKeys(key)[0] };
}

function specObject(v: StoredValue): Record<string, unknown> {
  return v.spec && typeof v.spec === 'object' && !Array.isArray(v.spec) ? (v.spec as Record<string, unknown>) : {};
}

/** The JSON text stored at the etcd key. */
export function encodeValue(v: StoredValue): string {
  if (v.kind === 'BlockAffinity') {
    // Calico's v2 affinity value: { state, deleted } with deleted a boolean (the CRD's is a string).
    const s = specObject(v);
    return JSON.stringify({ state: s.state, deleted: s.deleted === true || s.deleted === 'true' });
  }
  if (IPAM_KINDS.has(v.kind)) return JSON.stringify(v.spec ?? {});
  const m = v.metadata;
  const metadata: Record<string, unknown> = { name: m.name };
  if (m.namespace) metadata.namespace = m.namespace;
  if (m.uid) metadata.uid = m.uid;
  if (m.creationTimestamp) metadata.creationTimestamp = m.creationTimestamp;
  if (m.labels && Object.keys(m.labels).length) metadata.labels = m.labels;
  if (m.annotations && Object.keys(m.annotations).length) metadata.annotations = m.annotations;
  return JSON.stringify({ kind: v.kind, apiVersion: v.apiVersion || API_VERSION, metadata, spec: v.spec ?? {} });
}

/**
 * The model value of a stored JSON text. A value that is not JSON is passed up with the raw text as
 * its spec, so one corrupt record never fails a whole listing and the reader (e.g. `ipam check`) can
 * report it by name.
 */
export function decodeValue(key: ObjectKey, etcdKey: string, text: string): StoredValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const metadata = { name: key.name, ...(key.namespace ? { namespace: key.namespace } : {}) };
  if (key.kind === 'BlockAffinity') {
    const m = AFFINITY_KEY.exec(etcdKey);
    const o = isObject(parsed) ? parsed : undefined;
    const spec = o
      ? { ...o, node: m?.[1] ?? '', cidr: keyPartToCidr(m?.[2] ?? ''), type: 'host', deleted: o.deleted === true ? 'true' : 'false' }
      : text;
    return { apiVersion: API_VERSION, kind: key.kind, metadata, spec };
  }
  if (IPAM_KINDS.has(key.kind)) return { apiVersion: API_VERSION, kind: key.kind, metadata, spec: parsed === undefined ? text : parsed };
  if (!isObject(parsed)) return { apiVersion: API_VERSION, kind: key.kind, metadata, spec: text };
  const meta = isObject(parsed.metadata) ? parsed.metadata : {};
  return {
    ...(parsed as object),
    apiVersion: typeof parsed.apiVersion === 'string' ? parsed.apiVersion : API_VERSION,
    // Another kind under this kind's key stays visible, so readers can report it (datastore/invalid.ts).
    kind: typeof parsed.kind === 'string' && parsed.kind ? parsed.kind : key.kind,
    metadata: { ...(meta as StoredValue['metadata']), ...metadata },
    spec: parsed.spec ?? {},
  } as StoredValue;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

