// `get ipamblocks | blockaffinities | ipamhandles | ipamconfigs`: IPAM's own records, read from the
// store and shown as the v3 resources Calico's Kubernetes datastore holds, with their fields
// normalised by IPAM's parsers. Pure conversion + a thin reader.
import type { Store, StoredObject } from '../datastore/store.js';
import { API_VERSION, type Resource } from '../datastore/model/resource.js';
import { parseAffinity, parseBlock, parseHandle, parseIpamConfig, IpamDataError } from '../ipam/model.js';
import { blockName } from '../datastore/keys.js';

/** Kinds whose records IPAM writes itself; tortiectl only reads them. */
export const IPAM_VIEW_KINDS = ['IPAMBlock', 'BlockAffinity', 'IPAMHandle', 'IPAMConfig'] as const;
export type IpamViewKind = (typeof IPAM_VIEW_KINDS)[number];

export function isIpamViewKind(kind: string): kind is IpamViewKind {
  return (IPAM_VIEW_KINDS as readonly string[]).includes(kind);
}

/** Calico's v3 names: "10.0.0.0/26" → "10-0-0-0-26", "fd00::/122" → "fd00---122". */
export function cidrName(cidr: string): string {
  return blockName(cidr).toLowerCase();
}

function resource(o: StoredObject, spec: Record<string, unknown>): Resource {
  return { apiVersion: API_VERSION, kind: o.key.kind, metadata: { name: o.key.name, resourceVersion: o.revision }, spec };
}

/** The normalised spec of one IPAM record; an unreadable one is still shown (named, with the problem) so nothing is hidden. */
export function ipamView(o: StoredObject): Resource {
  const what = `${o.key.kind}(${o.key.name})`;
  const v = o.value.spec;
  try {
    switch (o.key.kind) {
      case 'IPAMBlock': {
        const b = parseBlock(what, v);
        return resource(o, { ...b, strictAffinity: b.strictAffinity ?? false });
      }
      case 'BlockAffinity': {
        const a = parseAffinity(what, v);
        const s = v as { node: string; cidr: string };
        return resource(o, { state: a.state, node: s.node, cidr: s.cidr, type: 'host', deleted: String(a.deleted) });
      }
      case 'IPAMHandle': {
        const h = parseHandle(what, v);
        return resource(o, { handleID: h.handleID, block: h.block, deleted: h.deleted });
      }
      default:
        return resource(o, { ...parseIpamConfig(what, v) });
    }
  } catch (e) {
    const why = e instanceof IpamDataError ? e.message : String(e);
    return { ...resource(o, {}), status: { error: why } };
  }
}

/** Everything of one IPAM kind in the store, sorted by name, with the revision of the read. */
export async function listIpamView(store: Store, kind: IpamViewKind): Promise<{ items: Resource[]; revision: string }> {
  const l = await store.list(kind);
  return { items: l.items.map(ipamView), revision: l.revision };
}
