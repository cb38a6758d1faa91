// Every shell block of every README runs, in order, as a reader would run it (or is marked as not
// run, with the reason): test/harness/doctest.ts says how blocks are marked. Blocks run in a temp
// dir holding links to the checkout's bin/ and manifests/, so `./bin/tortiectl` works as in the
// README and a file a block writes never lands in the checkout. One shell session per context:
// exported variables and the working directory carry from block to block. `etcd` blocks run in a
// network namespace of their own with etcd at 127.0.0.1:2379 (the README's address); `lab` blocks
// beside a tortie-lab cluster under this test's own prefix, removed at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCommands, extractBlocks, outputMatches, type DocBlock, type DocContext } from '../harness/doctest.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { NetnsSet } from '../harness/netns.js';
import { ensureBuilt, ROOT } from '../integration/ctl-helpers.js';

const LAB_PREFIX = 'dt-';
const LAB_ENV = { TORTIE_LAB_PREFIX: LAB_PREFIX, TORTIE_LAB_STATE: '/run/tortie-lab-doctest' };
const BLOCK_TIMEOUT_MS = 8 * 60_000;

function readmes(dir = ROOT): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', '.git', '.test-results'].includes(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...readmes(p));
    else if (e.name === 'README.md') out.push(p);
  }
  return out.sort();
}

const files = readmes().map((path) => ({ path, name: relative(ROOT, path), blocks: extractBlocks(relative(ROOT, path), readFileSync(path, 'utf8')) }));

interface Session {
  stateDir: string;
  /** The command prefix that puts a script where it runs (the etcd namespace). */
  wrap: string[];
  env: Record<string, string>;
}

function runScript(s: Session, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(s.stateDir, 'block.sh');
  // The reader's shell, kept across blocks: exported variables and the directory.
  writeFileSync(
    file,
    `set -eo pipefail\n. "$DT_STATE/env" 2>/dev/null || true\ncd "$(cat "$DT_STATE/cwd")"\ntrap 'export -p > "$DT_STATE/env"; pwd > "$DT_STATE/cwd"' EXIT\n${script}\n`,
  );
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = [...s.wrap, 'bash', file];
    const child = spawn(cmd, args, { env: { ...s.env, DT_STATE: s.stateDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The lab's namespaces carry this test's prefix; the README shows the default one. */
const normalise = (text: string): string[] => text.replace(new RegExp(`\\b${LAB_PREFIX}`, 'g'), 'tl-').replace(/\s+$/, '').split('\n');

async function runBlock(s: Session, b: DocBlock): Promise<void> {
  if (b.lang !== 'console') {
    const r = await runScript(s, b.body);
    expect(r.code, `${b.file}:${b.line} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
    return;
  }
  for (const c of consoleCommands(b.body)) {
    const r = await runScript(s, c.command);
    expect(r.code, `${b.file}:${b.line}: \`${c.command}\` exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
    if (c.expect) {
      const actual = normalise(r.stdout);
      expect(outputMatches(c.expect, actual), `${b.file}:${b.line}: \`${c.command}\` printed\n${actual.join('\n')}\n--- the README shows\n${c.expect.join('\n')}`).toBe(true);
    }
  }
}

let tmp: string;
let netns: NetnsSet | undefined;
let etcd: EtcdServer | undefined;
let labUsed = false;

async function labDown(): Promise<void> {
  await new Promise<void>((resolve) => {
    const child = spawn(join(ROOT, 'bin', 'tortie-lab'), ['down'], { env: { ...process.env, ...LAB_ENV }, stdio: 'ignore' });
    child.on('close', () => resolve());
    child.on('error', () => resolve());
  });
}

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'tortie-doctest-'));
});

afterAll(async () => {
  if (labUsed) await labDown();
  await etcd?.stop();
  await netns?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A fresh session (work dir, shell state) for one file and context; etcd / lab started on first use. */
async function session(file: string, ctx: DocContext): Promise<Session> {
  const stateDir = join(tmp, `${file.replace(/\W/g, '_')}-${ctx}`);
  const work = join(stateDir, 'work');
  mkdirSync(work, { recursive: true });
  for (const link of ['bin', 'manifests']) symlinkSync(join(ROOT, link), join(work, link));
  writeFileSync(join(stateDir, 'cwd'), work);
  const env: Record<string, string> = {};
  // A reader's shell: no datastore or lab settings of ours (a slow host's wait scale passes through).
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(ETCD_|DATASTORE_TYPE$|TORTIE_(BGP_SOCKET|LAB_PREFIX|LAB_STATE|DOCTEST)$)/.test(k)) env[k] = v;
  env.TMPDIR = stateDir;
  if (ctx === 'lab') {
    labUsed = true;
    await labDown(); // another file's lab, or a crashed earlier run's
    return { stateDir, wrap: [], env: { ...env, ...LAB_ENV } };
  }
  if (etcd) await etcd.stop();
  netns ??= new NetnsSet('doc');
  const ns = await netns.add('etcd');
  etcd = await startEtcd({ netns: ns });
  return { stateDir, wrap: ['ip', 'netns', 'exec', ns], env };
}

describe('README examples', () => {
  it('every shell block in every README is run or says why not', () => {
    const unmarked = files.flatMap((f) => f.blocks.filter((b) => b.unmarked).map((b) => `${b.file}:${b.line}`));
    expect(unmarked, 'mark each with <!-- doctest: etcd|lab --> or <!-- not run: REASON -->').toEqual([]);
  });

  for (const f of files) {
    // TORTIE_DOCTEST=etcd (or lab) runs one context only, for a quick check while editing.
    const runnable = f.blocks.filter((b) => b.run && (!process.env.TORTIE_DOCTEST || b.run === process.env.TORTIE_DOCTEST));
    if (!runnable.length) continue;
    describe(f.name, () => {
      const sessions = new Map<DocContext, Session>();
      for (const b of runnable) {
        const ctx = b.run as DocContext;
        it(`${b.file}:${b.line} (${ctx})`, async () => {
          let s = sessions.get(ctx);
          if (!s) sessions.set(ctx, (s = await session(f.name, ctx)));
          await runBlock(s, b);
        }, BLOCK_TIMEOUT_MS + 60_000);
      }
    });
  }
});
