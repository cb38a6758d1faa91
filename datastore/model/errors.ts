// Turns zod issues into FieldErrors with dotted paths ("spec.ingress[0].action").
import type { z } from 'zod';
import type { FieldError } from './resource.js';

export function formatPath(base: string, path: readonly (string | number)[]): string {
  let out = base;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

function describeIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'required field is missing' : `expected ${issue.expected}, got ${issue.received}`;
    case 'invalid_union':
      // Our unions are number-or-string fields; the first branch's message is the useful one.
      return `invalid value (${issue.unionErrors[0]?.issues[0]?.message ?? 'unexpected type'})`;
    default:
      return issue.message;
  }
}

export function zodToFieldErrors(error: z.ZodError, base: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath(base, [...issue.path, key]), message: `unknown field ${JSON.stringify(key)}` });
    } else {
      out.push({ path: formatPath(base, issue.path), message: describeIssue(issue) });
    }
  }
  return out;
}
