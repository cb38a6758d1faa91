// What tortiectl does with a failure: one line (or one per document) a person can act on, and an
// exit code — 1 for a failed operation, 2 for a usage error. Never a stack trace.
import { DatastoreError } from '../datastore/store.js';
import { ValidationError } from '../datastore/client.js';
import { DocumentSyntaxError } from './documents.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A command-line mistake (bad flag value, missing -f): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure already worded for the user: exit 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A failure whose message the command printed already (e.g. `node status`'s "not running"
 *  table): exit with its code, print nothing more. */
export class ReportedFailure extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ReportedFailure';
  }
}

export function describeError(err: unknown, file?: string): { message: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof ValidationError) {
    const where = file ? `${file}: ` : '';
    return { message: err.documents.length ? err.message.split('\n').map((l) => `${where}${l}`).join('\n') + '\nnothing was written' : err.message, exitCode: EXIT_FAILED };
  }
  if (err instanceof DocumentSyntaxError || err instanceof CliError) return { message: err.message, exitCode: EXIT_FAILED };
  if (err instanceof DatastoreError) return { message: err.message, exitCode: EXIT_FAILED };
  if (err instanceof Error) return { message: err.message, exitCode: EXIT_FAILED };
  return { message: String(err), exitCode: EXIT_FAILED };
}

/** Runs fn; a validation failure is re-worded with the file name so every line says where. */
export async function inFile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ValidationError) throw new CliError(describeError(err, file).message);
    throw err;
  }
}
