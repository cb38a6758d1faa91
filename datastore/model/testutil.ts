// Helpers for the model's unit tests: validate and return the resource, or the error list.
import { expect } from 'vitest';
import type { FieldError, Resource } from './resource.js';
import { validateResource } from './index.js';

export function ok(input: unknown): Resource {
  const r = validateResource(input);
  if (!r.ok) throw new Error(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.resource;
}

export function errs(input: unknown): FieldError[] {
  const r = validateResource(input);
  if (r.ok) throw new Error(`expected invalid, got ${JSON.stringify(r.resource)}`);
  return r.errors;
}

/** Asserts one error at `path` whose message matches `message`. */
export function expectError(input: unknown, path: string, message: RegExp): void {
  const e = errs(input);
  expect(e.some((x) => x.path === path && message.test(x.message)), JSON.stringify(e)).toBe(true);
}

export function v3(kind: string, name: string, spec: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...extra }, spec };
}
