// A zod schema from the resource model as a Kubernetes *structural* OpenAPI v3 schema, for the
// CRDs: every node typed, no logical junctors, unknown shapes marked
// x-kubernetes-preserve-unknown-fields (any value). Defaults are left out on purpose: the
// apiserver would fill them in, and an object read back must equal the object written.
// Refinements and transforms keep their input's shape (the model's transforms canonicalise
// values of the same type). Regexes are left out too: Go's and JavaScript's dialects differ, and
// the model validates every object before it is written. Pure.
import type { ZodTypeAny } from 'zod';

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  enum?: (string | number | boolean)[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

const ANY: JSONSchemaProps = { 'x-kubernetes-preserve-unknown-fields': true };

interface Def {
  typeName?: string;
  [k: string]: unknown;
}

interface Check {
  kind: string;
  value?: number;
  inclusive?: boolean;
}

const defOf = (t: ZodTypeAny): Def => t._def as Def;

function numberChecks(def: Def): JSONSchemaProps {
  const out: JSONSchemaProps = { type: 'number' };
  for (const c of (def.checks as Check[] | undefined) ?? []) {
    if (c.kind === 'int') out.type = 'integer';
    // Exclusive bounds only appear on integers in the model (.positive()): tighten by one.
    else if (c.kind === 'min' && c.value !== undefined) out.minimum = c.inclusive === false ? c.value + 1 : c.value;
    else if (c.kind === 'max' && c.value !== undefined) out.maximum = c.inclusive === false ? c.value - 1 : c.value;
  }
  return out;
}

function stringChecks(def: Def): JSONSchemaProps {
  const out: JSONSchemaProps = { type: 'string' };
  for (const c of (def.checks as Check[] | undefined) ?? []) {
    if (c.kind === 'min' && c.value !== undefined) out.minLength = c.value;
    else if (c.kind === 'max' && c.value !== undefined) out.maxLength = c.value;
    else if (c.kind === 'length' && c.value !== undefined) out.minLength = out.maxLength = c.value;
  }
  return out;
}

/** Is the field absent-able (optional or defaulted), looking through wrappers? */
function isOptional(t: ZodTypeAny): boolean {
  const def = defOf(t);
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
      return true;
    case 'ZodNullable':
      return isOptional(def.innerType as ZodTypeAny);
    case 'ZodEffects':
      return isOptional(def.schema as ZodTypeAny);
    default:
      return false;
  }
}

function unionSchema(options: ZodTypeAny[]): JSONSchemaProps {
  const parts = options.map(toStructural);
  const types = new Set(parts.map((p) => p.type));
  if (types.size === 1 && !types.has(undefined) && parts.every((p) => !p.properties && !p.items && !p.additionalProperties)) {
    const values = parts.flatMap((p) => p.enum ?? []);
    return values.length === parts.length && parts.every((p) => p.enum) ? { type: parts[0].type, enum: values } : { type: parts[0].type };
  }
  // Number-or-string fields in the model (AS numbers, protocols, ports) hold integers.
  if ([...types].every((t) => t === 'string' || t === 'integer' || t === 'number')) return { 'x-kubernetes-int-or-string': true };
  return ANY;
}

/** The structural schema for one zod type. */
export function toStructural(t: ZodTypeAny): JSONSchemaProps {
  const def = defOf(t);
  switch (def.typeName) {
    case 'ZodString':
      return stringChecks(def);
    case 'ZodNumber':
      return numberChecks(def);
    case 'ZodBigInt':
      return { type: 'integer' };
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodEnum':
      return { type: 'string', enum: [...(def.values as string[])] };
    case 'ZodNativeEnum': {
      const values = Object.values(def.values as Record<string, string | number>);
      return values.every((v) => typeof v === 'string') ? { type: 'string', enum: values } : ANY;
    }
    case 'ZodLiteral': {
      const v = def.value;
      if (typeof v === 'string') return { type: 'string', enum: [v] };
      if (typeof v === 'boolean') return { type: 'boolean', enum: [v] };
      if (typeof v === 'number') return { type: Number.isInteger(v) ? 'integer' : 'number', enum: [v] };
      return ANY;
    }
    case 'ZodArray': {
      const out: JSONSchemaProps = { type: 'array', items: toStructural(def.type as ZodTypeAny) };
      const min = def.minLength as { value: number } | null;
      const max = def.maxLength as { value: number } | null;
      if (min) out.minItems = min.value;
      if (max) out.maxItems = max.value;
      return out;
    }
    case 'ZodRecord':
      return { type: 'object', additionalProperties: toStructural(def.valueType as ZodTypeAny) };
    case 'ZodObject': {
      const shape = (def.shape as () => Record<string, ZodTypeAny>)();
      const properties: Record<string, JSONSchemaProps> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(shape)) {
        properties[k] = toStructural(v);
        if (!isOptional(v)) required.push(k);
      }
      const out: JSONSchemaProps = { type: 'object', properties };
      if (required.length) out.required = required;
      const catchall = defOf(def.catchall as ZodTypeAny).typeName;
      if (def.unknownKeys === 'passthrough' || (catchall && catchall !== 'ZodNever')) out['x-kubernetes-preserve-unknown-fields'] = true;
      return out;
    }
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodReadonly':
    case 'ZodCatch':
    case 'ZodBranded':
      return toStructural((def.innerType ?? def.type) as ZodTypeAny);
    case 'ZodNullable':
      return { ...toStructural(def.innerType as ZodTypeAny), nullable: true };
    case 'ZodEffects':
      return toStructural(def.schema as ZodTypeAny);
    case 'ZodPipeline':
      return toStructural(def.out as ZodTypeAny);
    case 'ZodUnion':
    case 'ZodDiscriminatedUnion':
      return unionSchema([...(def.options as ZodTypeAny[])]);
    default:
      // ZodUnknown, ZodAny, ZodLazy (recursive), ZodIntersection, ZodTuple…: any value.
      return ANY;
  }
}
