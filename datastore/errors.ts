// The datastore's errors, shared by the Store contract and every backend under it.

export type DatastoreErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict' // mod revision did not match
  | 'Compacted' // watch revision too old: caller must re-list
  | 'Unavailable' // cannot reach the datastore
  | 'Invalid';

export class DatastoreError extends Error {
  constructor(
    readonly code: DatastoreErrorCode,
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = 'DatastoreError';
  }
}
