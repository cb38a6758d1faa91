// Objects a store holds that are not valid objects of their kind: a value that is not JSON, JSON of
// the wrong shape, another kind under this kind's key, or a spec the model rejects (someone wrote
// the etcd key by hand, or a custom resource the CRD schema let through). Every reader treats such
// an object as absent and reports it with its key and the reason, as Calico's syncer skips a value
// it cannot parse: one bad record never stops a listing or hides the good ones beside it. Pure.
import { kindByName } from './model/kinds.js';
import { validateV3 } from './model/validate.js';
import { zodToFieldErrors } from './model/errors.js';
import type { FieldError } from './model/resource.js';
import type { ObjectKey, Store, StoredObject, StoredValue } from './store.js';

const IPAM_KINDS = new Set(['IPAMBlock', 'BlockAffinity', 'IPAMHandle', 'IPAMConfig']);

export interface InvalidObject {
  key: ObjectKey;
  revision: string;
  /** Where it lives, for messages: the etcd key or the API path (else Kind(ns/name)). */
  where: string;
  reason: string;
}

/** Kind(ns/name), as messages name an object. */
export function describeKey(key: ObjectKey): string {
  return `${key.kind}(${key.namespace ? `${key.namespace}/` : ''}${key.name})`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a stored value is not a valid object of the key's kind; undefined when it is one. */
export function valueProblem(key: ObjectKey, value: StoredValue): string | undefined {
  // A stored text that is not a JSON object reaches us as the raw text (etcd-layout's decodeValue).
  if (typeof value.spec === 'string') {
    try {
      JSON.parse(value.spec);
    } catch {
      return `not JSON: ${JSON.stringify(value.spec.length > 40 ? `${value.spec.slice(0, 40)}…` : value.spec)}`;
    }
    return 'not a JSON object';
  }
  if (value.kind !== key.kind) return `holds kind ${JSON.stringify(value.kind)}, not ${key.kind}`;
  const def = kindByName(key.kind);
  if (!def) return `unknown kind ${JSON.stringify(key.kind)}`;
  if (IPAM_KINDS.has(key.kind)) {
    if (!isRecord(value.spec)) return 'spec: not a JSON object';
    const r = def.specSchema.safeParse(value.spec);
    return r.success ? undefined : fieldErrors(zodToFieldErrors(r.error, 'spec'));
  }
  const m = value.metadata;
  const metadata = {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
  const r = validateV3({ apiVersion: value.apiVersion, kind: value.kind, metadata, spec: value.spec });
  return r.ok ? undefined : fieldErrors(r.errors);
}

const fieldErrors = (errors: readonly FieldError[]): string => errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');

/** The object as an InvalidObject when it is one. */
export function invalidObject(store: Pick<Store, 'locate'>, o: StoredObject): InvalidObject | undefined {
  const reason = valueProblem(o.key, o.value);
  return reason === undefined ? undefined : { key: o.key, revision: o.revision, where: store.locate?.(o.key) ?? describeKey(o.key), reason };
}

/** A listing split into the valid objects (in order) and the invalid ones. */
export function splitValid(store: Pick<Store, 'locate'>, items: readonly StoredObject[]): { valid: StoredObject[]; invalid: InvalidObject[] } {
  const valid: StoredObject[] = [];
  const invalid: InvalidObject[] = [];
  for (const o of items) {
    const bad = invalidObject(store, o);
    if (bad) invalid.push(bad);
    else valid.push(o);
  }
  return { valid, invalid };
}

/** One line for logs and tortiectl: "<where>: invalid <Kind>: <reason>". */
export function formatInvalid(bad: InvalidObject): string {
  return `${bad.where}: invalid ${bad.key.kind} (skipped): ${bad.reason}`;
}
