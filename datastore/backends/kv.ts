// The key/value driver under the etcd-layout Store (etcd-store.ts): etcd v3 itself, or the in-memory
// KV for unit tests. Revisions are etcd mod revisions: a store-wide counter, so "revision + 1" resumes
// a watch exactly. Only datastore/backends/ imports it: everything else speaks `Store` (../store.ts).
// Single-key compare-and-swap only: the Store contract has no transaction across objects.
import type { DatastoreError } from '../errors.js';

export { DatastoreError, type DatastoreErrorCode } from '../errors.js';

export interface KV {
  key: string;
  value: string;
  /** Revision of the last write to this key. Used for compare-and-swap. */
  modRevision: number;
  /** Revision at which the key was created. */
  createRevision: number;
}

export interface ListResult {
  items: KV[];
  /** Store revision the listing is consistent at; watch from revision + 1. */
  revision: number;
}

export type WatchEvent =
  | { type: 'put'; kv: KV; prev?: KV }
  | { type: 'delete'; key: string; revision: number; prev?: KV };

export interface WatchHandlers {
  /** Events in revision order; one call per etcd watch response. */
  onEvents(events: WatchEvent[]): void;
  /** Compacted (re-list needed) or Unavailable (connection lost; the watch is over). */
  onError(err: DatastoreError): void;
}

export interface Watch {
  close(): Promise<void>;
}

export interface Backend {
  /** Human-readable endpoint description for error messages, e.g. "etcdv3 at http://127.0.0.1:2379". */
  readonly description: string;
  get(key: string): Promise<KV | undefined>;
  list(prefix: string): Promise<ListResult>;
  /** Create only if absent; throws DatastoreError('AlreadyExists'). */
  create(key: string, value: string): Promise<KV>;
  /** Update only if the mod revision matches; throws 'Conflict' or 'NotFound'. */
  update(key: string, value: string, expectedModRevision: number): Promise<KV>;
  /** Delete (only if the mod revision matches when given); returns the deleted value. */
  delete(key: string, expectedModRevision?: number): Promise<KV>;
  /** Watch a prefix from a revision (inclusive), delivering previous values. */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch;
  close(): Promise<void>;
}
