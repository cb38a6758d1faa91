// A stored Calico object ↔ its crd.projectcalico.org/v1 custom resource, as Calico lays it out:
// the spec as is, labels and annotations on the resource, the rest of Calico's metadata as JSON
// in the projectcalico.org/metadata annotation. IPAM kinds carry a `deleted` mark (Kubernetes has
// no compare-and-delete: a delete first marks, then deletes with a UID precondition). Pure.
import { API_VERSION } from '../../model/resource.js';
import type { ObjectKey, StoredObject, StoredValue } from '../../store.js';
import { CRD_API_VERSION } from './crds.js';
import type { KubeObject } from './driver.js';

export const METADATA_ANNOTATION = 'projectcalico.org/metadata';

/** Kinds whose spec has Calico's `deleted` mark (BlockAffinity keeps it as the string "true"). */
const DELETED_MARK: Record<string, { marked: unknown; cleared: unknown }> = {
  IPAMBlock: { marked: true, cleared: false },
  IPAMHandle: { marked: true, cleared: false },
  BlockAffinity: { marked: 'true', cleared: 'false' },
};

export function hasDeletedMark(kind: string): boolean {
  return kind in DELETED_MARK;
}

export function isMarkedDeleted(kind: string, spec: unknown): boolean {
  const m = DELETED_MARK[kind];
  return m !== undefined && typeof spec === 'object' && spec !== null && (spec as Record<string, unknown>).deleted === m.marked;
}

export function markDeleted(kind: string, spec: unknown): unknown {
  const m = DELETED_MARK[kind];
  return m ? { ...(spec as Record<string, unknown>), deleted: m.marked } : spec;
}

/**
 * The resource name for a key name: Kubernetes names are lower-case, so IPAMHandle names (handle
 * IDs, which may have capitals) are lower-cased as Calico does; the original name is kept in the
 * metadata annotation.
 */
export function crdName(kind: string, name: string): string {
  return kind === 'IPAMHandle' ? name.toLowerCase() : name;
}

interface CalicoMeta {
  name?: string;
  uid?: string;
  creationTimestamp?: string;
}

export function toCustomResource(value: StoredValue, resourceVersion?: string): KubeObject {
  const m = value.metadata;
  const name = crdName(value.kind, m.name);
  const extra: CalicoMeta = {};
  if (name !== m.name) extra.name = m.name;
  if (m.uid) extra.uid = m.uid;
  if (m.creationTimestamp) extra.creationTimestamp = m.creationTimestamp;
  return {
    apiVersion: CRD_API_VERSION,
    kind: value.kind,
    metadata: {
      name,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.labels && Object.keys(m.labels).length ? { labels: m.labels } : {}),
      annotations: { ...(m.annotations ?? {}), [METADATA_ANNOTATION]: JSON.stringify(extra) },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: value.spec,
  };
}

function parseMeta(text: string | undefined): CalicoMeta {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as CalicoMeta) : {};
  } catch {
    return {};
  }
}

export function fromCustomResource(kind: string, cr: KubeObject): StoredObject {
  const km = cr.metadata;
  const { [METADATA_ANNOTATION]: metaText, ...annotations } = km.annotations ?? {};
  const meta = parseMeta(metaText);
  const name = typeof meta.name === 'string' ? meta.name : km.name;
  const key: ObjectKey = { kind, name, ...(km.namespace ? { namespace: km.namespace } : {}) };
  const value: StoredValue = {
    apiVersion: API_VERSION,
    kind,
    metadata: {
      name,
      ...(km.namespace ? { namespace: km.namespace } : {}),
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
      ...(typeof meta.creationTimestamp === 'string' ? { creationTimestamp: meta.creationTimestamp } : {}),
      ...(km.labels && Object.keys(km.labels).length ? { labels: km.labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: cr.spec ?? {},
  };
  return { key, value, revision: km.resourceVersion ?? '' };
}
