// Routes each input document to the right reader: projectcalico.org/v3 as is, the old Calico
// v1 forms and Kubernetes NetworkPolicy/Namespace through their converters, then validates.
import type { FieldError } from './resource.js';
import { convertK8s } from './k8s.js';
import { convertV1 } from './v1.js';
import { validateV3, type ValidationResult } from './validate.js';

export type Conversion = { ok: true; value: unknown } | { ok: false; errors: FieldError[] };
export type Converter = (input: Record<string, unknown>) => Conversion | undefined;

/** Each converter returns undefined for documents it does not own. */
const converters: Converter[] = [convertV1, convertK8s];

/** Validates any accepted form and returns the normalized v3 resource. */
export function validateResource(input: unknown): ValidationResult {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    for (const c of converters) {
      const r = c(input as Record<string, unknown>);
      if (r === undefined) continue;
      return r.ok ? validateV3(r.value) : r;
    }
  }
  return validateV3(input);
}
