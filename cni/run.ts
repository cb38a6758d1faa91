// The process shell every plugin entry shares: stdin in, one JSON document out, exit status.
// Any failure becomes the spec's error JSON on stdout and a non-zero exit; never a stack trace.
import { DatastoreError } from '../datastore/store.js';
import { IpamError } from '../ipam/errors.js';
import { CNI_CODES, CniError } from './errors.js';

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof IpamError) return new CniError(CNI_CODES.ipamFailure, e.message, e.code);
  if (e instanceof DatastoreError)
    return new CniError(e.code === 'Unavailable' ? CNI_CODES.tryAgainLater : CNI_CODES.datastoreFailure, `datastore: ${e.message}`, e.code);
  return new CniError(CNI_CODES.ioFailure, e instanceof Error ? e.message : String(e));
}

export async function runPlugin(main: (stdin: string) => Promise<Record<string, unknown> | undefined>, cniVersionHint: () => string): Promise<void> {
  let code = 0;
  try {
    const out = await main(await readStdin());
    if (out) process.stdout.write(`${JSON.stringify(out)}\n`);
  } catch (e) {
    const err = toCniError(e);
    process.stdout.write(`${JSON.stringify({ cniVersion: cniVersionHint(), code: err.code, msg: err.message, details: err.details })}\n`);
    code = 1;
  }
  // Datastore clients keep sockets open; a plugin is one-shot.
  process.exit(code);
}

/** runPlugin for an entry: the error JSON carries the request's cniVersion when it has one. */
export function runEntry(main: (stdin: string) => Promise<Record<string, unknown> | undefined>): Promise<void> {
  let version = '1.0.0';
  return runPlugin(
    (stdin) => {
      try {
        version = (JSON.parse(stdin) as { cniVersion?: string }).cniVersion ?? version;
      } catch {
        /* reported by the parser */
      }
      return main(stdin);
    },
    () => version,
  );
}
