// A daemon process run inside a network namespace (`ip netns exec NS cmd …`, which execs in place,
// so the child pid IS the daemon's pid and signals reach it directly). Shared by the BIRD and GoBGP
// launchers: start/kill/signal/stop, stderr tail for error messages, killed on test-process exit.
// Their temp dirs come from tempDir(), so a process that dies mid-start (a signal, an exception
// before the owner got hold of the object) still leaves nothing behind: stopAll() and the exit hook
// remove every daemon and dir this process made.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* best effort */
      }
    }
    for (const d of dirs) removeTempDir(d);
  });
}

/** A fresh directory under the OS temp dir (`prefix` e.g. 'tortie-bird-'), removed by removeTempDir(), stopAll() or at exit. */
export function tempDir(prefix: string): string {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** SIGKILLs every daemon this process started, waits for them to exit, and removes every tempDir(): a bench's signal / error path. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  for (const d of dirs) removeTempDir(d);
}

export class NetnsDaemon {
  private child: ChildProcess | undefined;

  constructor(
    readonly ns: string,
    readonly argv: string[],
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    hookExit();
    const fd = openSync(this.logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', this.ns, ...this.argv], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.child = child;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child?.kill(sig);
  }

  /** Sends the signal and waits for the process to exit (SIGKILL by default). */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // A stopped process only dies of SIGKILL; SIGCONT lets a SIGTERM through.
    c.kill('SIGCONT');
    c.kill(sig);
    await exited;
  }
}

/** Starts `x` (a daemon wrapper); if that fails, stops it, so what it made is removed, and rethrows. */
export async function startOrStop<T extends { start(): Promise<void>; stop(): Promise<void> }>(x: T): Promise<T> {
  try {
    await x.start();
  } catch (err) {
    await x.stop();
    throw err;
  }
  return x;
}

/** An interop test's afterAll: stops / cleans up each in order, skipping what never started; one failure does not keep the rest running (the first is rethrown). */
export async function stopEach(...xs: Array<{ stop(): Promise<void> } | { cleanup(): Promise<void> } | undefined>): Promise<void> {
  let first: unknown;
  for (const x of xs) {
    try {
      if (x) await ('stop' in x ? x.stop() : x.cleanup());
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
