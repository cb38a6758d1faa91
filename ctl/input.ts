// Reads the -f argument: a file path or "-" for stdin.
import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';
import { parseDocuments } from './documents.js';

export function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new CliError(`cannot read ${file}: ${why}`);
  }
}

/** The documents of -f FILE, named "stdin" in messages when read from "-". */
export function readDocuments(file: string): { name: string; docs: unknown[] } {
  const name = file === '-' ? 'stdin' : file;
  const docs = parseDocuments(readInput(file), name);
  if (docs.length === 0) throw new CliError(`${name}: no resources found`);
  return { name, docs };
}
