// The shape every projectcalico.org/v3 resource shares, and what the kind registry says about each kind.
import type { z } from 'zod';

export const API_VERSION = 'projectcalico.org/v3';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Resource<K extends string = string, S = unknown> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: unknown;
}

/** A problem with one field of one resource: path like "spec.cidr". */
export interface FieldError {
  path: string;
  message: string;
}

export interface KindInfo<S = unknown> {
  /** Canonical kind, e.g. "IPPool". */
  kind: string;
  /** Lower-case plural used in the key path, e.g. "ippools". */
  plural: string;
  /** Extra names accepted on the command line (lower-case): singular, short forms. */
  aliases: string[];
  namespaced: boolean;
  /** Validates the spec shape (unknown fields rejected) and fills defaults. */
  specSchema: z.ZodType<S, z.ZodTypeDef, unknown>;
}
