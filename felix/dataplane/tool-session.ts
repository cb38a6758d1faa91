// A long-lived restore process (`iptables-restore --noflush`, `ipset -`) fed one request at a
// time on its stdin. A one-shot iptables-restore spends most of a small change outside the
// change itself: start-up, and about 10 ms closing its netfilter socket after the commit (an RCU
// grace period), while the commit into a 20,000-rule table takes about 5 ms. Kept running, the
// process commits each `COMMIT` block as it reads it.
//
// Neither tool answers a request, so "done" is read from the kernel: the process sleeps in a read
// of its stdin again (/proc/PID/stat and /proc/PID/wchan) after every byte was written to it. It
// reads its input line by line and only blocks once all of it is consumed, so a sleeping read
// after the write means every line was acted on. A failure shows as text on stderr (ipset goes
// on; the request fails) or as the process exiting (iptables-restore stops at the first error;
// the next request starts a fresh one). Where /proc cannot tell, `supported` turns false and the
// caller runs the tool once per request instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Where a process sleeps when it waits for more stdin (a pipe, or Node's socketpair). */
const READ_WAITS = new Set(['pipe_read', 'unix_stream_read_generic']);
const POLL_MS = 1;
/** A request the kernel has not finished in this long is stuck: the process is killed. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A fresh process reaches its first read well within this, or idleness cannot be seen here. */
const START_TIMEOUT_MS = 5_000;

export interface ToolSessionOptions {
  cmd: string;
  args: string[];
  /** Run inside this network namespace (`ip netns exec`, which keeps the PID). */
  netns?: string;
}

interface Live {
  proc: ChildProcess;
  stderr: string;
  exited?: string;
}

export class ToolSession {
  /** False once idleness could not be read from /proc: callers fall back to one-shot runs. */
  supported = true;
  private live?: Live;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ToolSessionOptions) {}

  get description(): string {
    return `${this.opts.cmd} ${this.opts.args.join(' ')}`;
  }

  /** Feeds `input` to the process and resolves once it has acted on all of it. */
  run(input: string): Promise<void> {
    const r = this.queue.then(() => this.runNow(input));
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Starts the process ahead of the first request (a failure shows at that request). */
  warm(): void {
    this.queue = this.queue.then(() => (this.live && this.live.exited === undefined ? undefined : this.start())).catch(() => undefined);
  }

  /** Ends the process (stdin closed: it exits on its own). */
  close(): void {
    const l = this.live;
    this.live = undefined;
    if (l && l.exited === undefined) {
      l.proc.stdin?.end();
      setTimeout(() => l.exited === undefined && l.proc.kill('SIGKILL'), 2_000).unref();
    }
  }

  private async runNow(input: string): Promise<void> {
    const l = this.live && this.live.exited === undefined ? this.live : await this.start();
    l.stderr = '';
    const stdin = l.proc.stdin as NonNullable<ChildProcess['stdin']>;
    this.hold(l, true);
    try {
      const writeErr = await new Promise<Error | null | undefined>((resolve) => stdin.write(input, resolve));
      if (!writeErr) await this.untilIdle(l, REQUEST_TIMEOUT_MS);
      // Its stderr is in our socket by now; one turn of the event loop reads it.
      await new Promise((r) => setImmediate(r));
      if (writeErr && l.exited === undefined) l.exited = writeErr.message;
      if (l.exited !== undefined) await stderrDrained(l.proc);
    } catch (e) {
      this.live = undefined; // killed: stuck
      throw e;
    } finally {
      this.hold(l, false);
    }
    if (l.exited !== undefined) {
      this.live = undefined;
      throw new Error(`${this.description}: ${l.stderr.trim() || l.exited}`);
    }
    if (l.stderr) throw new Error(`${this.description}: ${l.stderr.trim()}`);
  }

  private async start(): Promise<Live> {
    const { cmd, args, netns } = this.opts;
    const proc = netns ? spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['pipe', 'ignore', 'pipe'] }) : spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const l: Live = { proc, stderr: '' };
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => void (l.stderr += d));
    proc.on('error', (e) => void (l.exited ??= e.message));
    proc.on('exit', (code, sig) => void (l.exited ??= `exited (${sig ?? `code ${code}`})`));
    proc.stdin?.on('error', () => undefined); // a write to a process that died: seen as its exit
    this.hold(l, false);
    try {
      await this.untilIdle(l, START_TIMEOUT_MS);
    } catch (e) {
      if (l.exited === undefined) {
        // Alive but never seen waiting for input: /proc cannot tell us here.
        this.supported = false;
        proc.kill('SIGKILL');
      }
      throw e;
    }
    if (l.exited !== undefined) throw new Error(`${this.description}: ${l.stderr.trim() || l.exited}`);
    this.live = l;
    return l;
  }

  /** Keeps the event loop alive for a request in flight only. */
  private hold(l: Live, on: boolean): void {
    // With stdio 'pipe' the streams are sockets, which can be unref'd like the process.
    for (const h of [l.proc, l.proc.stdin, l.proc.stderr] as ({ ref?(): void; unref?(): void } | null)[]) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }

  private untilIdle(l: Live, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = (): void => {
        if (l.exited !== undefined) return resolve();
        if (waitingForInput(l.proc.pid)) return resolve();
        if (Date.now() > deadline) {
          l.proc.kill('SIGKILL');
          return reject(new Error(`${this.description}: no progress in ${timeoutMs} ms`));
        }
        setTimeout(tick, POLL_MS);
      };
      tick();
    });
  }
}

/** The last of a dead process's stderr (its exit can be seen before its output is read). */
function stderrDrained(proc: ChildProcess): Promise<void> {
  const err = proc.stderr;
  if (!err || err.readableEnded || err.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 500);
    err.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Is the process asleep in a read of its stdin? (A woken reader shows as running, R.) */
export function waitingForInput(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'S' && READ_WAITS.has(readFileSync(`/proc/${pid}/wchan`, 'utf8').trim());
  } catch {
    return false;
  }
}
