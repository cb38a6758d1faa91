// validateResource: one document in, a normalized projectcalico.org/v3 resource (defaults filled)
// or every field error out. checkPoolOverlap: the cross-resource pool rule, pure.
import { z } from 'zod';
import { zodToFieldErrors } from './errors.js';
import { annotationsSchema, isDns1123Label, labelsSchema } from './fields.js';
import { kindByName, lookupKind, type IPPool, type KindDef } from './kinds.js';
import { cidrsOverlap, parseCIDR } from './net.js';
import { API_VERSION, type FieldError, type ObjectMeta, type Resource } from './resource.js';

export type ValidationResult = { ok: true; resource: Resource } | { ok: false; errors: FieldError[] };

const metadataSchema = z
  .object({
    name: z.string({ required_error: 'name is required' }).min(1, 'name is required'),
    namespace: z.string().optional(),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    creationTimestamp: z.string().optional(),
    labels: labelsSchema.optional(),
    annotations: annotationsSchema.optional(),
  })
  .strict();

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMetadata(def: KindDef, raw: unknown, errors: FieldError[]): ObjectMeta | undefined {
  const parsed = metadataSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    errors.push(...zodToFieldErrors(parsed.error, 'metadata'));
    return undefined;
  }
  // Drop absent optionals so the stored JSON carries no undefined keys.
  const meta = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as unknown as ObjectMeta;
  const nameProblem = def.nameRule(meta.name);
  if (nameProblem) errors.push({ path: 'metadata.name', message: nameProblem });
  if (def.namespaced) {
    meta.namespace ??= 'default';
    if (!isDns1123Label(meta.namespace)) errors.push({ path: 'metadata.namespace', message: `${JSON.stringify(meta.namespace)} is not a valid namespace name` });
  } else if (meta.namespace !== undefined) {
    errors.push({ path: 'metadata.namespace', message: `${def.kind} is not namespaced; remove metadata.namespace` });
  }
  return meta;
}

/** Validates a projectcalico.org/v3 document and fills Calico's defaults. */
export function validateV3(input: unknown): ValidationResult {
  if (!isRecord(input)) return { ok: false, errors: [{ path: '', message: 'a resource must be a mapping with apiVersion, kind, metadata and spec' }] };
  const errors: FieldError[] = [];
  if (input.apiVersion !== API_VERSION) {
    errors.push({ path: 'apiVersion', message: `expected ${JSON.stringify(API_VERSION)}, got ${JSON.stringify(input.apiVersion ?? null)}` });
  }
  const kindText = typeof input.kind === 'string' ? input.kind : '';
  const def = kindByName(kindText);
  if (!def) {
    const guess = lookupKind(kindText);
    const hint = guess ? `; did you mean ${JSON.stringify(guess.kind)}?` : '';
    errors.push({ path: 'kind', message: `unknown kind ${JSON.stringify(input.kind ?? null)}${hint}` });
    return { ok: false, errors };
  }
  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL.has(key)) errors.push({ path: key, message: `unknown field ${JSON.stringify(key)}` });
  }
  const metadata = checkMetadata(def, input.metadata, errors);
  const spec = def.specSchema.safeParse(input.spec ?? {});
  if (!spec.success) errors.push(...zodToFieldErrors(spec.error, 'spec'));
  if (input.status !== undefined && !isRecord(input.status)) errors.push({ path: 'status', message: 'status must be a mapping' });
  if (errors.length || !metadata || !spec.success) return { ok: false, errors };
  const finalSpec = def.finalize ? def.finalize(metadata.name, spec.data) : spec.data;
  const resource: Resource = { apiVersion: API_VERSION, kind: def.kind, metadata, spec: finalSpec };
  if (input.status !== undefined) resource.status = input.status;
  return { ok: true, resource };
}

export interface PoolOverlap {
  pool: string;
  other: string;
  message: string;
}

type PoolLike = Pick<IPPool, 'metadata'> & { spec: Pick<IPPool['spec'], 'cidr'> };

/** Every pair of distinct pools whose CIDRs share addresses ("pools may not overlap"). */
export function checkPoolOverlap(pools: readonly PoolLike[]): PoolOverlap[] {
  const parsed = pools.map((p) => ({ name: p.metadata.name, cidr: p.spec.cidr, net: parseCIDR(p.spec.cidr) }));
  const out: PoolOverlap[] = [];
  for (let i = 0; i < parsed.length; i++) {
    for (let j = i + 1; j < parsed.length; j++) {
      const [a, b] = [parsed[i], parsed[j]];
      if (a.name === b.name || !a.net || !b.net || !cidrsOverlap(a.net, b.net)) continue;
      out.push({ pool: a.name, other: b.name, message: `IPPool ${a.name} (${a.cidr}) overlaps IPPool ${b.name} (${b.cidr})` });
    }
  }
  return out;
}
