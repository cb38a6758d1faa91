// Typed resource client over a KV Backend: stores projectcalico.org/v3 resources the way Calico does
// (JSON without resourceVersion at /calico/resources/v3/projectcalico.org/<plural>/[<ns>/]<name>) and
// reports the etcd mod revision back as metadata.resourceVersion. Every write is compare-and-swap.
import { randomUUID } from 'node:crypto';
import { DatastoreError, type Backend, type KV, type TxnCompare, type TxnOp, type WatchEvent } from './backend.js';
import { resourceKey, resourceListPrefix } from './keys.js';
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
  | { type: 'added' | 'modified'; resource: Resource; revision: number }
  | { type: 'deleted'; kind: string; name: string; namespace?: string; revision: number; previous?: Resource };

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

/**
 * IPAM writes these itself under /calico/ipam/v2/ (with sequence numbers and the block index); a copy
 * written under /calico/resources/v3/ would be ignored by IPAM and mislead whoever reads it.
 */
const IPAM_MANAGED_KINDS = new Set(['IPAMBlock', 'BlockAffinity', 'IPAMHandle']);
const IPAM_MANAGED_MESSAGE = 'is kept by IPAM under /calico/ipam/v2/ and is read-only here; use `tortiectl ipam release` or `tortiectl ipam gc`';

export class ResourceClient {
  private readonly model: ResourceModel;
  private readonly now: () => Date;
  private readonly uuid: () => string;

  constructor(
    readonly backend: Backend,
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
    const key = this.key(info, name, namespace);
    const kv = await this.backend.get(key);
    if (!kv) throw notFound(info, name, namespace);
    return decode(kv);
  }

  async list(kind: string, opts: ListOptions = {}): Promise<{ items: Resource[]; revision: number }> {
    const info = this.kind(kind);
    const prefix = resourceListPrefix(info.plural, info.namespaced ? opts.namespace : undefined);
    const res = await this.backend.list(prefix);
    const items = res.items.map(decode).sort(compareResources);
    return { items, revision: res.revision };
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

  /** Validates every document (schema and cross-resource rules) before writing any; all-or-nothing. */
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
    const key = this.key(info, name, opts.namespace);
    const rev = opts.resourceVersion === undefined ? undefined : parseRevision(opts.resourceVersion, 'metadata.resourceVersion');
    try {
      return decode(await this.backend.delete(key, rev));
    } catch (err) {
      throw mapError(err, info, name, opts.namespace);
    }
  }

  /** Deletes the resources named by the documents, all or none (each must exist). */
  async deleteAll(inputs: unknown[]): Promise<Resource[]> {
    const docErrors: DocumentError[] = [];
    const targets: { info: KindInfo; name: string; namespace?: string; key: string; resourceVersion?: string }[] = [];
    inputs.forEach((input, i) => {
      const id = identify(input);
      const info = id.kind ? this.model.lookupKind(id.kind) : undefined;
      const errors: FieldError[] = [];
      if (!info) errors.push({ path: 'kind', message: id.kind ? `unknown resource kind '${id.kind}'` : 'required' });
      if (!id.name) errors.push({ path: 'metadata.name', message: 'required' });
      if (info && IPAM_MANAGED_KINDS.has(info.kind)) errors.push({ path: 'kind', message: `${info.kind} ${IPAM_MANAGED_MESSAGE}` });
      if (errors.length || !info) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors });
        return;
      }
      targets.push({ info, name: id.name, namespace: id.namespace, key: this.key(info, id.name, id.namespace), resourceVersion: id.resourceVersion });
    });
    if (docErrors.length) throw new ValidationError(docErrors);
    const existing = await Promise.all(targets.map((t) => this.backend.get(t.key)));
    const missing = targets.filter((_, i) => !existing[i]);
    if (missing.length) throw notFound(missing[0].info, missing[0].name, missing[0].namespace);
    const compares: TxnCompare[] = targets.map((t, i) => ({
      key: t.key,
      modRevision: t.resourceVersion !== undefined ? parseRevision(t.resourceVersion, 'metadata.resourceVersion') : (existing[i] as KV).modRevision,
    }));
    const ops: TxnOp[] = targets.map((t) => ({ type: 'delete', key: t.key }));
    const res = await this.backend.txn(compares, ops);
    if (!res.succeeded) throw new DatastoreError('Conflict', 'a resource changed while deleting; nothing was deleted, try again');
    return existing.map((kv) => decode(kv as KV));
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

  /** Watch one kind from a revision (inclusive); events carry decoded resources. */
  watch(kind: string, fromRevision: number, handlers: ResourceWatchHandlers, opts: ListOptions = {}): { close(): Promise<void> } {
    const info = this.kind(kind);
    const prefix = resourceListPrefix(info.plural, info.namespaced ? opts.namespace : undefined);
    return this.backend.watch(prefix, fromRevision, {
      onEvents: (events) => handlers.onEvents(events.map((e) => toResourceEvent(info, e))),
      onError: (err) => handlers.onError(err),
    });
  }

  private key(info: KindInfo, name: string, namespace?: string): string {
    return resourceKey(info.plural, name, info.namespaced ? namespace || DEFAULT_NAMESPACE : undefined);
  }

  private async writeAll(action: Exclude<WriteAction, 'delete'>, inputs: unknown[]): Promise<WriteResult[]> {
    // 1. Schema validation of every document.
    const docErrors: DocumentError[] = [];
    const valid: { index: number; info: KindInfo; resource: Resource; key: string; resourceVersion?: string }[] = [];
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
      if (id.resourceVersion !== undefined && !/^[1-9][0-9]*$/.test(id.resourceVersion)) {
        docErrors.push({ index: i + 1, kind: id.kind, name: id.name, errors: [{ path: 'metadata.resourceVersion', message: `'${id.resourceVersion}' is not a revision number` }] });
        return;
      }
      if (action === 'replace' && id.resourceVersion === undefined) {
        // Unlike calicoctl we still need a revision to CAS against: take it from the store below.
      }
      valid.push({ index: i + 1, info, resource, key: this.key(info, resource.metadata.name, resource.metadata.namespace), resourceVersion: id.resourceVersion });
    });
    // Duplicate keys within a batch are ambiguous: reject rather than let the last win.
    const seen = new Map<string, number>();
    for (const v of valid) {
      const prev = seen.get(v.key);
      if (prev !== undefined) {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: `same resource as document ${prev}` }] });
      } else seen.set(v.key, v.index);
    }
    if (docErrors.length) throw new ValidationError(docErrors.sort((a, b) => a.index - b.index));

    // 2. Read current state: the documents' keys plus whatever the cross-resource rules need.
    const current = await Promise.all(valid.map((v) => this.backend.get(v.key)));
    valid.forEach((v, i) => {
      const kv = current[i];
      if (action === 'create' && kv) docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: 'resource already exists' }] });
      if (action === 'replace' && !kv) docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.name', message: 'resource does not exist' }] });
      if (kv && v.resourceVersion !== undefined && String(kv.modRevision) !== v.resourceVersion) {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.resourceVersion', message: `is ${v.resourceVersion} but the stored resource is at ${kv.modRevision}: it changed since you read it` }] });
      }
      if (!kv && v.resourceVersion !== undefined && action !== 'apply') {
        docErrors.push({ index: v.index, kind: v.resource.kind, name: v.resource.metadata.name, errors: [{ path: 'metadata.resourceVersion', message: 'resource does not exist' }] });
      }
    });
    const crossErrors = await this.crossResourceErrors(valid);
    docErrors.push(...crossErrors);
    if (docErrors.length) throw new ValidationError(docErrors.sort((a, b) => a.index - b.index));

    // 3. One transaction: every key compared at the revision we read, so a concurrent writer fails us.
    const compares: TxnCompare[] = [];
    const ops: TxnOp[] = [];
    const results: WriteResult[] = [];
    valid.forEach((v, i) => {
      const kv = current[i];
      const stored = kv ? (JSON.parse(kv.value) as Resource) : undefined;
      const meta: ObjectMeta = {
        ...v.resource.metadata,
        uid: stored?.metadata?.uid ?? this.uuid(),
        creationTimestamp: stored?.metadata?.creationTimestamp ?? this.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      const value = encode({ ...v.resource, metadata: meta });
      compares.push({ key: v.key, modRevision: kv ? kv.modRevision : 0 });
      if (kv && sameJson(kv.value, value)) {
        results.push({ resource: decode(kv), changed: false });
        return;
      }
      ops.push({ type: 'put', key: v.key, value });
      results.push({ resource: { ...(JSON.parse(value) as Resource) }, changed: true });
    });
    if (ops.length === 0) return results;
    const res = await this.backend.txn(compares, ops);
    if (!res.succeeded) throw new DatastoreError('Conflict', 'a resource changed while writing; nothing was written, try again');
    for (const r of results) if (r.changed) r.resource.metadata.resourceVersion = String(res.revision);
    return results;
  }

  /** Rules spanning resources: IP pools may not overlap (within the batch or with the store). */
  private async crossResourceErrors(valid: { index: number; info: KindInfo; resource: Resource; key: string }[]): Promise<DocumentError[]> {
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

/** The stored form: Calico's JSON without resourceVersion, keys in a stable order. */
export function encode(r: Resource): string {
  const m = r.metadata;
  const metadata: Record<string, unknown> = { name: m.name };
  if (m.namespace) metadata.namespace = m.namespace;
  if (m.uid) metadata.uid = m.uid;
  if (m.creationTimestamp) metadata.creationTimestamp = m.creationTimestamp;
  if (m.labels && Object.keys(m.labels).length) metadata.labels = m.labels;
  if (m.annotations && Object.keys(m.annotations).length) metadata.annotations = m.annotations;
  const out: Record<string, unknown> = { kind: r.kind, apiVersion: r.apiVersion || API_VERSION, metadata, spec: r.spec ?? {} };
  return JSON.stringify(out);
}

export function decode(kv: KV): Resource {
  let r: Resource;
  try {
    r = JSON.parse(kv.value) as Resource;
  } catch {
    throw new DatastoreError('Invalid', `stored value at ${kv.key} is not JSON`, kv.key);
  }
  r.metadata = { ...(r.metadata ?? { name: '' }), resourceVersion: String(kv.modRevision) };
  return r;
}

function toResourceEvent(info: KindInfo, e: WatchEvent): ResourceEvent {
  if (e.type === 'put') return { type: e.prev ? 'modified' : 'added', resource: decode(e.kv), revision: e.kv.modRevision };
  const rest = e.key.slice(resourceListPrefix(info.plural).length).split('/');
  const name = rest[rest.length - 1];
  const namespace = rest.length > 1 ? rest[0] : undefined;
  return { type: 'deleted', kind: info.kind, name, namespace, revision: e.revision, previous: e.prev ? decode(e.prev) : undefined };
}

function compareResources(a: Resource, b: Resource): number {
  const na = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function parseRevision(s: string, path: string): number {
  if (!/^[1-9][0-9]*$/.test(s)) throw new DatastoreError('Invalid', `${path}: '${s}' is not a revision number`);
  return Number(s);
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
