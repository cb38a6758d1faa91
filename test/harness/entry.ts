// How tests start one of our TypeScript entry points as a process. `make test` builds first and
// sets TORTIE_TEST_DIST=1: the entry then runs compiled from dist/, which saves tsx's start-up
// (seconds per process on a loaded 2-core machine); otherwise, or before a build, it runs the
// source through tsx's loader (an absolute URL, so it resolves from any working directory).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** Command and arguments that run `rel` (a path from the repo root without extension, e.g. 'bgp/cli'). */
export function entry(rel: string): [command: string, args: string[]] {
  const dist = join(ROOT, 'dist', `${rel}.js`);
  if (process.env.TORTIE_TEST_DIST === '1' && existsSync(dist)) return [process.execPath, [dist]];
  return [process.execPath, ['--import', TSX_LOADER, join(ROOT, `${rel}.ts`)]];
}

/** entry() as one argv, for `ip netns exec NS …` and the like. */
export function entryArgv(rel: string): string[] {
  const [cmd, args] = entry(rel);
  return [cmd, ...args];
}
