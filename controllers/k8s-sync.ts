// On etcd, calico-kube-controllers' policy, namespace and serviceaccount controllers keep Calico
// objects derived from Kubernetes ones: NetworkPolicy → knp.default.<name>, Namespace → Profile
// kns.<ns>, ServiceAccount → Profile ksa.<ns>.<sa> (the model's converters make them). This is the
// pure part: the desired objects against the ones in the datastore → what to write and delete.
// Only objects carrying the controller's prefix are ever touched.
import { KNP_PREFIX, KNS_PREFIX, KSA_PREFIX } from '../datastore/model/k8s.js';

export type SyncController = 'policy' | 'namespace' | 'serviceaccount';

export interface SyncedObject {
  kind: 'NetworkPolicy' | 'Profile';
  name: string;
  namespace?: string;
  spec: unknown;
}

export interface SyncPlan {
  upserts: SyncedObject[];
  deletes: SyncedObject[];
}

/** Whether a Calico object is one this controller derives (and so may replace or delete). */
export function ownedBy(c: SyncController, o: Pick<SyncedObject, 'kind' | 'name'>): boolean {
  if (c === 'policy') return o.kind === 'NetworkPolicy' && o.name.startsWith(KNP_PREFIX);
  return o.kind === 'Profile' && o.name.startsWith(c === 'namespace' ? KNS_PREFIX : KSA_PREFIX);
}

const id = (o: SyncedObject): string => `${o.kind}/${o.namespace ?? ''}/${o.name}`;

/** JSON with object keys sorted, so equal specs compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function planSync(c: SyncController, desired: readonly SyncedObject[], current: readonly SyncedObject[]): SyncPlan {
  const have = new Map(current.filter((o) => ownedBy(c, o)).map((o) => [id(o), o]));
  const want = new Map(desired.filter((o) => ownedBy(c, o)).map((o) => [id(o), o]));
  const upserts = [...want.values()].filter((o) => {
    const h = have.get(id(o));
    return !h || canonical(h.spec) !== canonical(o.spec);
  });
  const deletes = [...have.values()].filter((o) => !want.has(id(o)));
  return { upserts, deletes };
}
