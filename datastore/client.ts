// Typed resource client over a Store: validates projectcalico.org/v3 resources, fills uid and
// creationTimestamp, and reports the store's opaque revision as metadata.resourceVersion. Every write
// is compare-and-swap on the revision read. A batch is validated as a whole (schema and cross-resource
// rules) before anything is written, then written object by object, as `kubectl apply` does.
import { randomUUID } from 'node:crypto';
import { DatastoreError } from './errors.js';
import { encodeValue } from './backends/etcd-layout.js';
import { splitValid, type InvalidObject } from './invalid.js';
import type { ObjectKey, Store, StoredObject, StoredValue, StoreEvent } from './store.js';
import { API_VERSION, type FieldError, type KindInfo, type ObjectMeta, type Resource } from './model/resource.js';
import { checkPoolOverlap, lookupKind, validateResource, type ValidationResult } from './model/index.js';
import { mergePatch, type JsonValue } from './merge-patch.js';

/** The model functions the client relies on; injectable so tests can stub a rule. */
export interface ResourceModel {
  lookupKind(nameOrAlias: string): KindInfo | undefined;
  validateResource(input: unknown): ValidationResult;
}

const defaultModel: ResourceModel = { lookupKind, validateResource };

/** One rejected document of a batch: its position (1-based), identity and field errors. */
export interface DocumentError {
  index: number;
  kind: string;
  name: string;
  errors: FieldError[];
}

/** Thrown when any document fails validation; nothing has been written. */
export class ValidationError extends Error {
  constructor(readonly documents: DocumentError[]) {
    super(documents.map(formatDocumentError).join('\n'));
    this.name = 'ValidationError';
  }
}

export function formatDocumentError(d: DocumentError): string {
  const what = `document ${d.index} (${d.kind || '?'} '${d.name || '?'}')`;
  return d.errors.map((e) => `${what}: ${e.path ? `${e.path}: ` : ''}${e.message}`).join('\n');
}

export type WriteAction = 'create' | 'apply' | 'replace' | 'delete';

export interface WriteResult {
  resource: Resource;
  /** false when apply found the stored resource already identical and wrote nothing. */
  changed: boolean;
}

export interface ListOptions {
  /** Only this namespace (namespaced kinds); omitted lists all namespaces. */
  namespace?: string;
}

export type ResourceEvent =
  | { type: 'added' | 'modified'; resource: Resource; revision: string }
  | { type: 'deleted'; kind: string; name: string; namespace?: string; revision: string; previous?: Resource };

/** One document of a batch that was (or was not) written before a later write failed. */
export interface DocumentOutcome {
  index: number;
  kind: string;
  name: string;
  namespace?: string;
  outcome: 'written' | 'unchanged' | 'failed' | 'not attempted';
}

/**
 * A batch passed validation but a write failed part-way (a concurrent change, or the datastore went
 * away): the documents before it are written, the failed one and those after it are not.
 */
export class PartialWriteError extends DatastoreError {
  constructor(
    readonly failure: DatastoreError,
    readonly outcomes: DocumentOutcome[],
  ) {
    super(failure.code, `${failure.message}\n${outcomes.map((o) => `document ${o.index} (${o.kind} '${o.namespace ? `${o.namespace}/` : ''}${o.name}'): ${o.outcome}`).join('\n')}`, failure.key);
    this.name = 'PartialWriteError';
  }

  get written(): DocumentOutcome[] {
    return this.outcomes.filter((o) => o.outcome === 'written');
  }
}

export interface ResourceWatchHandlers {
  onEvents(events: ResourceEvent[]): void;
  onError(err: DatastoreError): void;
}

export interface ClientOptions {
  model?: ResourceModel;
  now?: () => Date;
  uuid?: () => string;
}

export const DEFAULT_NAMESPACE = 'default';

/** IPAM writes these itself (blocks with sequence numbers, handles counted with them); hand edits would break its invariants. */
const IPAM_MANAGED_KINDS = new Set(['IPAMBlock', 'BlockAffinity', 'IPAMHandle']);
const IPAM_MANAGED_MESSAGE = 'is kept by IPAM and is read-only here; use `tortiectl ipam release` or `tortiectl ipam gc`';

export class ResourceClient {
  private readonly model: ResourceModel;
  private readonly now: () => Date;
  private readonly uuid: () => string;

  constructor(
    readonly store: Store,
    opts: ClientOptions = {},
  ) {
    this.model = opts.model ?? defaultModel;
    this.now = opts.now ?? (() => new Date());
    this.uuid = opts.uuid ?? randomUUID;
  }

  /** Kind registry lookup by canonical name, plural or alias (case-insensitive). */
  kind(nameOrAlias: string): KindInfo {
    const info = this.model.lookupKind(nameOrAlias);
    if (!info) throw new DatastoreError('Invalid', `unknown resource kind '${nameOrAlias}'`);
    return info;
  }

  async get(kind: string, name: string, namespace?: string): Promise<Resource> {
    const info = this.kind(kind);
    const obj = await this.store.get(objectKey(info, name, namespace));
    if (!obj) throw notFound(info, name, namespace);
    return toResource(obj);
  }

  /** Every valid object of a kind; the stored values that are not valid objects come apart, as `invalid`. */
  async list(kind: string, opts: ListOptions = {}): Promise<{ items: Resource[]; revision: string; invalid: InvalidObject[] }> {
    const info = this.kind(kind);
    const res = await this.store.list(info.kind, info.namespaced ? opts.namespace : undefined);
    const { valid, invalid } = splitValid(this.store, res.items);
    return { items: valid.map(toResource), revision: res.revision, invalid };
  }

  async create(input: unknown): Promise<Resource> {
    return (await this.writeAll('create', [input]))[0].resource;
  }

  /** Update with compare-and-swap on metadata.resourceVersion (required). */
  async update(input: unknown): Promise<Resource> {
    return (await this.writeAll('replace', [input]))[0].resource;
  }

  async replace(input: unknown): Promise<Resource> {
    return this.update(input);
  }

  async apply(input: unknown): Promise<WriteResult> {
    return (await this.writeAll('apply', [input]))[0];
  }

  /** Validates every document (schema and cross-resource rules) before writing any, then writes them in order. */
  async applyAll(inputs: unknown[]): Promise<WriteResult[]> {
    return this.writeAll('apply', inputs);
  }

  async createAll(inputs: unknown[]): Promise<WriteResult[]> {
    return this.writeAll('create', inputs);
  }

  async replaceAll(inputs: unknown[]): Promise<WriteResult[]> {
    return this.writeAll('replace', inputs);
  }

  async delete(kind: string, name: string, opts: { namespace?: string; resourceVersion?: string } = {}): Promise<Resource> {
    const info = this.kind(kind);
    if (IPAM_MANAGED_KINDS.has(info.kind)) throw new DatastoreError('Invalid', `${info.kind} ${IPAM_MANAGED_MESSAGE}`);
    const key = objectKey(info, name, opts.namespace);
    const readOnly = this.store.readOnly(key);
    if (readOnly) throw new DatastoreError('Invalid', `${describe(info, name, opts.namespace)}: ${readOnly}`);
    try {
      return toResource(await this.store.delete(key, opts.resourceVersion));
    } catch (err) {
      throw mapError(err, info, name, opts.namespace);
    }
  }

  /**
   * Deletes the resources named by the documents. Every one must exist (and be at its given
   * resourceVersion) before any is deleted; then each is deleted, compare-and-swap on the revision read.
   */
  async deleteAll(inputs: unknown[]): Promise<Resource[]> {
    const docErrors: DocumentError[] = [];
    const targets: { index: number; info: KindInfo; name: string; namespace?: string; key: ObjectKey; resourceVersion?: string }[] = [];
    inputs.forEach((input, i) => {
      const id = identify(input);
      const info = id.kind ? this.model.lookupKind(id.kind) : undefined;
      const errors: FieldError[] = [];
      if (!info) errors.push({ path: 'kind', message: id.kind ? `unknown resource kind '${id.kind}'` : 'required' });
      if (!id.name) errors.push({ path: 'metadata.name', message: 'required' });
      if (info && IPAM_MANAGED_KINDS.has(info.kind)) errors.push({ path: 'kind', message: `${info.kind} ${IPAM_MANAGED_MESSAGE}` });
      const key = info && id.name ? objectKey(info, id.name, id.namespace) : undefined;
      const readOnly = key ? this.store.readOnly(key) : undefined;
      if (readOnly) errors.push({ path: 'metadata.name', message: readOnly });
      if (errors.length || !info || !key) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors });
        return;
      }
      targets.push({ index: i + 1, info, name: id.name, namespace: key.namespace, key, resourceVersion: id.resourceVersion });
    });
    if (docErrors.length) throw new ValidationError(docErrors);
    const existing = await Promise.all(targets.map((t) => this.store.get(t.key)));
    const missing = targets.filter((_, i) => !existing[i]);
    if (missing.length) throw notFound(missing[0].info, missing[0].name, missing[0].namespace);
    const stale = targets.find((t, i) => t.resourceVersion !== undefined && t.resourceVersion !== existing[i]?.revision);
    if (stale) throw new DatastoreError('Conflict', `${describe(stale.info, stale.name, stale.namespace)} changed since it was read (resourceVersion mismatch); nothing was deleted`);
    const outcomes: DocumentOutcome[] = targets.map((t) => ({ index: t.index, kind: t.info.kind, name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}), outcome: 'not attempted' }));
    const deleted: Resource[] = [];
    for (const [i, t] of targets.entries()) {
      try {
        deleted.push(toResource(await this.store.delete(t.key, existing[i]?.revision)));
        outcomes[i].outcome = 'written';
      } catch (err) {
        outcomes[i].outcome = 'failed';
        throw partial(mapError(err, t.info, t.name, t.namespace), outcomes);
      }
    }
    return deleted;
  }

  /** RFC 7396 JSON merge patch, validated, then compare-and-swap on the revision read. */
  async patch(kind: string, name: string, patch: JsonValue, namespace?: string): Promise<Resource> {
    const current = await this.get(kind, name, namespace);
    const patched = mergePatch(current as unknown as JsonValue, patch);
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) {
      throw new ValidationError([{ index: 1, kind: current.kind, name, errors: [{ path: '', message: 'patch must leave an object' }] }]);
    }
    const meta = (patched as Record<string, JsonValue>).metadata;
    if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
      // Identity and revision come from the store, not the patch.
      meta.name = current.metadata.name;
      if (current.metadata.namespace) meta.namespace = current.metadata.namespace;
      meta.resourceVersion = current.metadata.resourceVersion ?? null;
    }
    return this.update(patched);
  }

  /** Watch one kind from a list revision ('' = from now); events carry decoded resources. */
  watch(kind: string, fromRevision: string, handlers: ResourceWatchHandlers, opts: ListOptions = {}): { close(): Promise<void> } {
    const info = this.kind(kind);
    return this.store.watch(
      info.kind,
      fromRevision,
      {
        onEvents: (events) => handlers.onEvents(events.map(toResourceEvent)),
        onError: (err) => handlers.onError(err),
      },
      info.namespaced ? opts.namespace : undefined,
    );
  }

  private async writeAll(action: Exclude<WriteAction, 'delete'>, inputs: unknown[]): Promise<WriteResult[]> {
    // 1. Schema validation of every document.
    const docErrors: DocumentError[] = [];
    const valid: { index: number; info: KindInfo; resource: Resource; key: ObjectKey; resourceVersion?: string }[] = [];
    inputs.forEach((input, i) => {
      const id = identify(input);
      const managed = id.kind ? this.model.lookupKind(id.kind) : undefined;
      if (managed && IPAM_MANAGED_KINDS.has(managed.kind)) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: [{ path: 'kind', message: `${managed.kind} ${IPAM_MANAGED_MESSAGE}` }] });
        return;
      }
      const res = this.model.validateResource(input);
      if (!res.ok) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: res.errors });
        return;
      }
      const info = this.model.lookupKind(res.resource.kind);
      if (!info) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: [{ path: 'kind', message: `unknown resource kind '${id.kind}'` }] });
        return;
      }
      const resource = res.resource;
      if (info.namespaced && !resource.metadata.namespace) resource.metadata = { ...resource.metadata, namespace: DEFAULT_NAMESPACE };
      if (!info.namespaced && resource.metadata.namespace) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: [{ path: 'metadata.namespace', message: `${info.kind} is not namespaced` }] });
        return;
      }
      const key = objectKey(info, resource.metadata.name, resource.metadata.namespace);
      const readOnly = this.store.readOnly(key);
      if (readOnly) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: [{ path: 'metadata.name', message: readOnly }] });
        return;
      }
      valid.push({ index: i + 1, info, resource, key, resourceVersion: id.resourceVersion });
    });
    // Duplicate objects within a batch are ambiguous: reject rather than let the last win.
    const seen = new Map<string, number>();
    for (const v of valid) {
      const id = `${v.key.kind}/${v.key.namespace ?? ''}/${v.key.name}`;
      const prev = seen.get(id);
      if (prev !== undefined) {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: `same resource as document ${prev}` }] });
      } else seen.set(id, v.index);
    }
    if (docErrors.length) throw new ValidationError(docErrors.sort((a, b) => a.index - b.index));

    // 2. Read current state: the documents' objects plus whatever the cross-resource rules need.
    const current = await Promise.all(valid.map((v) => this.store.get(v.key)));
    valid.forEach((v, i) => {
      const obj = current[i];
      if (action === 'create' && obj) docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: 'resource already exists' }] });
      if (action === 'replace' && !obj) docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: 'resource does not exist' }] });
      if (obj && v.resourceVersion !== undefined && obj.revision !== v.resourceVersion) {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.resourceVersion', message: `is ${v.resourceVersion} but the stored resource is at ${obj.revision}: it changed since you read it` }] });
      }
      if (!obj && v.resourceVersion !== undefined && action !== 'apply') {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.resourceVersion', message: 'resource does not exist' }] });
      }
    });
    docErrors.push(...(await this.crossResourceErrors(valid)));
    if (docErrors.length) throw new ValidationError(docErrors.sort((a, b) => a.index - b.index));

    // 3. Write object by object, each compare-and-swap on the revision read in step 2.
    const outcomes: DocumentOutcome[] = valid.map((v) => ({ index: v.index, kind: v.info.kind, name: v.resource.metadata.name, ...(v.key.namespace ? { namespace: v.key.namespace } : {}), outcome: 'not attempted' }));
    const results: WriteResult[] = [];
    for (const [i, v] of valid.entries()) {
      const obj = current[i];
      const meta: ObjectMeta = {
        ...v.resource.metadata,
        uid: obj?.value.metadata.uid ?? this.uuid(),
        creationTimestamp: obj?.value.metadata.creationTimestamp ?? this.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      const value = toStoredValue({ ...v.resource, metadata: meta });
      if (obj && sameJson(encodeValue(obj.value), encodeValue(value))) {
        results.push({ resource: toResource(obj), changed: false });
        outcomes[i].outcome = 'unchanged';
        continue;
      }
      try {
        const written = obj ? await this.store.update(value, obj.revision) : await this.store.create(value);
        results.push({ resource: toResource(written), changed: true });
        outcomes[i].outcome = 'written';
      } catch (err) {
        outcomes[i].outcome = 'failed';
        throw partial(mapError(err, v.info, v.resource.metadata.name, v.key.namespace), outcomes);
      }
    }
    return results;
  }

  /** Rules spanning resources: IP pools may not overlap (within the batch or with the store). */
  private async crossResourceErrors(valid: { index: number; info: KindInfo; resource: Resource }[]): Promise<DocumentError[]> {
    const pools = valid.filter((v) => v.info.kind === 'IPPool');
    if (pools.length === 0) return [];
    const stored = await this.list('IPPool');
    const batchNames = new Set(pools.map((p) => p.resource.metadata.name));
    const candidates: Resource[] = [...stored.items.filter((r) => !batchNames.has(r.metadata.name)), ...pools.map((p) => p.resource)];
    const errors: DocumentError[] = [];
    const overlaps = checkPoolOverlap(candidates as unknown as Parameters<typeof checkPoolOverlap>[0]);
    for (const p of pools) {
      const name = p.resource.metadata.name;
      // Calico refuses it too: the blocks already carved from the old CIDR would be orphaned.
      const before = stored.items.find((r) => r.metadata.name === name);
      if (before && cidrOf(before) !== cidrOf(p.resource)) errors.push({ index: p.index, kind: 'IPPool', name, errors: [{ path: 'spec.cidr', message: `IPPool CIDR cannot be modified (${cidrOf(before)} → ${cidrOf(p.resource)}): create a new pool, disable this one and delete it` }] });
      const clash = overlaps.filter((o) => o.pool === name || o.other === name);
      if (clash.length) {
        errors.push({
          index: p.index,
          kind: 'IPPool',
          name,
          errors: clash.map((o) => {
            const other = candidates.find((c) => c.metadata.name === (o.pool === name ? o.other : o.pool));
            return { path: 'spec.cidr', message: `${cidrOf(p.resource)} overlaps IPPool '${other?.metadata.name ?? '?'}' (${other ? cidrOf(other) : '?'})` };
          }),
        });
      }
    }
    return errors;
  }
}

/** Equal as JSON regardless of key order: an identical re-apply must not bump the revision. */
function sameJson(a: string, b: string): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  try {
    return JSON.stringify(canon(JSON.parse(a))) === JSON.stringify(canon(JSON.parse(b)));
  } catch {
    return false;
  }
}

function cidrOf(r: Resource): string {
  const spec = r.spec as { cidr?: unknown } | undefined;
  return typeof spec?.cidr === 'string' ? spec.cidr : '?';
}

/** Best-effort identity of a raw document for error messages. */
export function identify(input: unknown): { kind: string; name: string; namespace?: string; resourceVersion?: string } {
  const o = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const m = (o.metadata && typeof o.metadata === 'object' ? o.metadata : {}) as Record<string, unknown>;
  const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined);
  return {
    kind: str(o.kind) ?? '',
    // v1 documents (calicoctl v1) are named by their CIDR or peer IP.
    name: str(m.name) ?? str(m.cidr) ?? str(m.peerIP) ?? '',
    namespace: str(m.namespace),
    resourceVersion: str(m.resourceVersion) || undefined,
  };
}

/** The stored form in Calico's etcd layout: the v3 JSON without resourceVersion, keys in a stable order. */
export function encode(r: Resource): string {
  return encodeValue(toStoredValue(r));
}

/** A resource as the store keeps it: no resourceVersion (the store's revision is that). */
export function toStoredValue(r: Resource): StoredValue {
  const { resourceVersion: _rv, ...metadata } = r.metadata;
  return { apiVersion: r.apiVersion || API_VERSION, kind: r.kind, metadata, spec: r.spec ?? {} };
}

/** A stored object as a resource, its revision as metadata.resourceVersion. */
export function toResource(o: StoredObject): Resource {
  const v = o.value;
  return { ...v, apiVersion: v.apiVersion || API_VERSION, kind: v.kind, metadata: { ...v.metadata, resourceVersion: o.revision }, spec: v.spec };
}

function objectKey(info: KindInfo, name: string, namespace?: string): ObjectKey {
  return info.namespaced ? { kind: info.kind, name, namespace: namespace || DEFAULT_NAMESPACE } : { kind: info.kind, name };
}

function toResourceEvent(e: StoreEvent): ResourceEvent {
  if (e.type !== 'deleted') return { type: e.type, resource: toResource(e.object), revision: e.object.revision };
  return { type: 'deleted', kind: e.key.kind, name: e.key.name, namespace: e.key.namespace, revision: e.revision, previous: e.previous ? toResource(e.previous) : undefined };
}

/** The error of the failed document, with what happened to every document of the batch. */
function partial(err: unknown, outcomes: DocumentOutcome[]): unknown {
  if (!(err instanceof DatastoreError)) return err;
  // A batch of one that failed wrote nothing: the plain error says all there is.
  if (outcomes.length === 1) return err;
  return new PartialWriteError(err, outcomes);
}

function describe(info: KindInfo, name: string, namespace?: string): string {
  return info.namespaced ? `${info.kind}(${namespace || DEFAULT_NAMESPACE}/${name})` : `${info.kind}(${name})`;
}

function notFound(info: KindInfo, name: string, namespace?: string): DatastoreError {
  return new DatastoreError('NotFound', `resource does not exist: ${describe(info, name, namespace)}`);
}

function mapError(err: unknown, info: KindInfo, name: string, namespace?: string): unknown {
  if (err instanceof DatastoreError) {
    if (err.code === 'NotFound') return notFound(info, name, namespace);
    if (err.code === 'Conflict') return new DatastoreError('Conflict', `${describe(info, name, namespace)} changed since it was read (resourceVersion mismatch)`);
  }
  return err;
}
