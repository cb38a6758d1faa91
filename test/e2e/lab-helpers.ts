// Drives the tortie-lab CLI from tests with a private namespace prefix and state dir, so test labs
// never collide with a user's lab or with each other; `down` always runs in afterAll.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entry } from '../harness/entry.js';
import { run } from '../harness/exec.js';

// `make test` builds first and sets TORTIE_TEST_DIST=1: the lab (and every agent and CNI plugin it
// starts) then runs compiled, which saves tsx's start-up on each of hundreds of process starts.
const [LAB_CMD, LAB_ARGV] = entry('lab/main');

export interface TestLab {
  prefix: string;
  stateDir: string;
  lab(args: string[]): Promise<string>;
  ns(name: string): string;
  exec(ns: string, argv: string[]): Promise<string>;
  down(): Promise<void>;
}

export function testLab(tag: string): TestLab {
  const prefix = `tle${tag}${process.pid % 10000}-`;
  const stateDir = mkdtempSync(join(tmpdir(), `tortie-lab-${tag}-`));
  const env = { ...process.env, TORTIE_LAB_PREFIX: prefix, TORTIE_LAB_STATE: stateDir };
  const lab = async (args: string[]): Promise<string> => (await run(LAB_CMD, [...LAB_ARGV, ...args], { env })).stdout;
  return {
    prefix,
    stateDir,
    lab,
    ns: (name) => `${prefix}${name}`,
    exec: async (ns, argv) => (await run('ip', ['netns', 'exec', ns, ...argv])).stdout,
    down: async () => {
      await lab(['down']).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value (the agents converge asynchronously); throws after timeoutMs. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 300));
  }
}
