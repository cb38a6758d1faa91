// `get ipamblocks | blockaffinities | ipamhandles | ipamconfigs`: IPAM keeps its records in Calico's
// /calico/ipam/v2/ layout (not under /calico/resources/v3/), so these kinds are read from there and
// shown as the v3 resources Calico's Kubernetes datastore would hold. Pure conversion + a thin reader.
import type { Backend, KV } from '../datastore/backend.js';
import { decode } from '../datastore/client.js';
import { IPAM_CONFIG_KEY, IPAM_HANDLE_PREFIX, hostAffinityPrefix, ipamBlockPrefix, keyPartToCidr, resourceListPrefix } from '../datastore/keys.js';
import { API_VERSION, type Resource } from '../datastore/model/resource.js';
import { parseAffinity, parseBlock, parseHandle, parseIpamConfig, IpamDataError } from '../ipam/model.js';

/** Kinds whose records IPAM writes itself; tortiectl only reads them. */
export const IPAM_VIEW_KINDS = ['IPAMBlock', 'BlockAffinity', 'IPAMHandle', 'IPAMConfig'] as const;
export type IpamViewKind = (typeof IPAM_VIEW_KINDS)[number];

export function isIpamViewKind(kind: string): kind is IpamViewKind {
  return (IPAM_VIEW_KINDS as readonly string[]).includes(kind);
}

/** Calico's v3 names: "10.0.0.0/26" → "10-0-0-0-26", "fd00::/122" → "fd00---122". */
export function cidrName(cidr: string): string {
  return cidr.replace(/[./:]/g, '-').toLowerCase();
}

function resource(kind: IpamViewKind, name: string, kv: KV, spec: Record<string, unknown>): Resource {
  return { apiVersion: API_VERSION, kind, metadata: { name, resourceVersion: String(kv.modRevision) }, spec };
}

/** An unreadable record is still listed (named, with the parse problem) so nothing in the store is hidden. */
function unreadable(kind: IpamViewKind, name: string, kv: KV, e: unknown): Resource {
  const why = e instanceof IpamDataError ? e.message : String(e);
  return { ...resource(kind, name, kv, {}), status: { error: why } };
}

export function blockView(kv: KV): Resource {
  const name = cidrName(keyPartToCidr(kv.key.slice(kv.key.lastIndexOf('/') + 1)));
  try {
    const b = parseBlock(kv.key, kv.value);
    return resource('IPAMBlock', name, kv, {
      cidr: b.cidr,
      affinity: b.affinity,
      strictAffinity: b.strictAffinity ?? false,
      allocations: b.allocations,
      unallocated: b.unallocated,
      attributes: b.attributes,
      deleted: b.deleted,
      sequenceNumber: b.sequenceNumber,
      sequenceNumberForAllocation: b.sequenceNumberForAllocation,
    });
  } catch (e) {
    return unreadable('IPAMBlock', name, kv, e);
  }
}

/** Key: /calico/ipam/v2/host/<node>/ipv4/block/<cidr>. */
export function affinityView(kv: KV): Resource | undefined {
  const m = /\/host\/([^/]+)\/ipv[46]\/block\/([^/]+)$/.exec(kv.key);
  if (!m) return undefined;
  const [, node, part] = m as unknown as [string, string, string];
  const cidr = keyPartToCidr(part);
  const name = `${node}-${cidrName(cidr)}`;
  try {
    const a = parseAffinity(kv.key, kv.value);
    return resource('BlockAffinity', name, kv, { state: a.state, node, cidr, type: 'host', deleted: String(a.deleted) });
  } catch (e) {
    return unreadable('BlockAffinity', name, kv, e);
  }
}

export function handleView(kv: KV): Resource {
  const name = kv.key.slice(IPAM_HANDLE_PREFIX.length);
  try {
    const h = parseHandle(kv.key, kv.value);
    return resource('IPAMHandle', name, kv, { handleID: h.handleID, block: h.block, deleted: h.deleted });
  } catch (e) {
    return unreadable('IPAMHandle', name, kv, e);
  }
}

export function configView(kv: KV): Resource {
  try {
    return resource('IPAMConfig', 'default', kv, { ...parseIpamConfig(kv.key, kv.value) });
  } catch (e) {
    return unreadable('IPAMConfig', 'default', kv, e);
  }
}

const byName = (a: Resource, b: Resource): number => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

/** Everything of one IPAM kind in the store, sorted by name, with the revision of the read. */
export async function listIpamView(backend: Backend, kind: IpamViewKind): Promise<{ items: Resource[]; revision: number }> {
  if (kind === 'IPAMConfig') {
    // The allocator honours the v3 resource first and the v2 key second; show the one in force.
    const res = await backend.list(resourceListPrefix('ipamconfigs'));
    if (res.items.length) return { items: res.items.map(decode), revision: res.revision };
    const v2 = await backend.list(IPAM_CONFIG_KEY);
    return { items: v2.items.filter((kv) => kv.key === IPAM_CONFIG_KEY).map(configView), revision: v2.revision };
  }
  if (kind === 'IPAMBlock') {
    const v4 = await backend.list(ipamBlockPrefix(4));
    const v6 = await backend.list(ipamBlockPrefix(6));
    return { items: [...v4.items, ...v6.items].map(blockView).sort(byName), revision: v6.revision };
  }
  if (kind === 'BlockAffinity') {
    const l = await backend.list(hostAffinityPrefix());
    return { items: l.items.map(affinityView).filter((r): r is Resource => r !== undefined).sort(byName), revision: l.revision };
  }
  const l = await backend.list(IPAM_HANDLE_PREFIX);
  return { items: l.items.map(handleView).sort(byName), revision: l.revision };
}
