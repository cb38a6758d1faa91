// Shared by the ctl-* integration tests: run the BUILT tortiectl against a real etcd, and take a
// byte-exact snapshot of the whole store (header revision ignored) with etcdctl.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../harness/exec.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CTL = join(ROOT, 'bin', 'tortiectl');

export interface CtlResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed because it did not finish within the time limit. */
  timedOut: boolean;
}

/** Builds dist/ once if the CLI has not been built (make test builds first). */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(join(ROOT, 'dist', 'ctl', 'main.js'))) return;
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }).catch(() => undefined);
  if (!existsSync(join(ROOT, 'dist', 'ctl', 'main.js'))) throw new Error('dist/ctl/main.js missing: run `npm run build`');
}

export function ctl(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    const child = spawn(process.execPath, [CTL, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(opts.input ?? '');
  });
}

interface EtcdctlKV {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
}

/** Every key, value and revision in the store, decoded; the header (store revision) left out. */
export async function snapshot(endpoint: string): Promise<string> {
  const { stdout } = await run('etcdctl', ['--endpoints', endpoint, 'get', '--prefix', '/', '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  const parsed = JSON.parse(stdout) as { kvs?: EtcdctlKV[] };
  const kvs = (parsed.kvs ?? []).map((kv) => ({
    key: Buffer.from(kv.key, 'base64').toString('utf8'),
    value: Buffer.from(kv.value, 'base64').toString('utf8'),
    create_revision: kv.create_revision,
    mod_revision: kv.mod_revision,
    version: kv.version,
  }));
  return JSON.stringify(kvs, null, 1);
}

/** Keys and decoded values under a prefix, as `etcdctl get --prefix` prints them. */
export async function etcdGetPrefix(endpoint: string, prefix: string): Promise<string> {
  const { stdout } = await run('etcdctl', ['--endpoints', endpoint, 'get', '--prefix', prefix], { env: { ...process.env, ETCDCTL_API: '3' } });
  return stdout;
}
