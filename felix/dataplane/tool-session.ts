// A long-lived restore tool (`iptables-restore --noflush`, `ipset -`) fed one request at a time on
// its stdin. A fresh process per change spends most of a small change outside the change:
// start-up, and about 10 ms closing its netfilter socket after the commit (an RCU grace period),
// while a small commit into a 20,000-rule table takes well under a millisecond.
//
// "Done" always comes from the tool itself, in the order it acts, never from timing:
// - iptables-restore -v echoes each comment line as it reads it, and it reads the line after
//   COMMIT only once that commit has returned from the kernel. Every transaction is followed by
//   `# tortie-done N`; its echo is the acknowledgement. A failed commit prints the line on stderr
//   and exits before the echo.
// - `ipset -` (interactive) prints a prompt after each command it has carried out; with stdout
//   unbuffered and stderr on the same pipe, a request of k commands is done at its k-th prompt,
//   and anything else between the prompts is an error message. After an error the process is
//   replaced, because interactive ipset silently drops commands after some errors.
// Where the tool does not answer the start-up handshake, `supported` turns false and the caller
// runs the tool once per request instead.
import { spawn, type ChildProcess } from 'node:child_process';

/** A request the kernel has not finished in this long is stuck: the process is killed. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A fresh process answers its handshake well within this, or it does not answer at all. */
const START_TIMEOUT_MS = 10_000;

/** How one tool is run and how its output says a request is finished. */
export interface SessionProtocol {
  /** The command line, run as is (or inside `ip netns exec`). */
  argv: string[];
  /** The bytes to write for a request ('' for the start-up handshake) and a reader of the output. */
  frame(input: string, seq: number): { text: string; read(out: string): Answer | undefined };
}

/** A finished request: the output it consumed, and the tool's complaint if it made one. */
export interface Answer {
  consumed: number;
  error?: string;
}

/** iptables-restore / ip6tables-restore with -v, acknowledged by the echo of a comment line. */
export function restoreProtocol(cmd: string, args: string[]): SessionProtocol {
  return {
    argv: [cmd, ...args, '-v'],
    frame(input, seq) {
      const marker = `# tortie-done ${seq}\n`;
      return {
        text: input + marker,
        read(out) {
          const at = out.indexOf(marker);
          return at < 0 ? undefined : { consumed: at + marker.length };
        },
      };
    },
  };
}

/** Interactive ipset, one prompt per command carried out; stderr joined to stdout to keep order. */
export function ipsetProtocol(argv = ['sh', '-c', 'exec stdbuf -o0 ipset - 2>&1']): SessionProtocol {
  const PROMPT = 'ipset> ';
  return {
    argv,
    frame(input) {
      const lines = input.split('\n').filter((l) => l.trim() !== '');
      // The handshake waits for the first prompt; a request for one prompt per command.
      const want = Math.max(1, lines.length);
      return {
        text: lines.map((l) => `${l}\n`).join(''),
        read(out) {
          let at = 0;
          let said = '';
          for (let n = 0; n < want; n++) {
            const p = out.indexOf(PROMPT, at);
            if (p < 0) return undefined;
            said += out.slice(at, p);
            at = p + PROMPT.length;
          }
          return said.trim() ? { consumed: at, error: said.trim() } : { consumed: at };
        },
      };
    },
  };
}

export interface ToolSessionOptions {
  protocol: SessionProtocol;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** How long a fresh process may take to answer its handshake (default 10 s). */
  startTimeoutMs?: number;
}

interface Live {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  exited?: string;
  /** Called on every stdout chunk and on the end: the waiter for the current request. */
  wake?: () => void;
}

export class ToolSession {
  /** False once the tool was seen not answering: callers fall back to one run per request. */
  supported = true;
  private live?: Live;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ToolSessionOptions) {}

  get description(): string {
    return this.opts.protocol.argv.join(' ');
  }

  /** Feeds one request and resolves once the tool has carried all of it out. */
  run(input: string): Promise<void> {
    const r = this.queue.then(() => this.runNow(input));
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Starts the process ahead of the first request (a failure shows at that request). */
  warm(): void {
    this.queue = this.queue.then(() => (this.alive() ? undefined : this.start())).catch(() => undefined);
  }

  /** Ends the process: stdin closed, so it exits on its own. */
  close(): void {
    const l = this.live;
    this.live = undefined;
    if (l) end(l);
  }

  private alive(): Live | undefined {
    return this.live && this.live.exited === undefined ? this.live : undefined;
  }

  private async runNow(input: string): Promise<void> {
    const l = this.alive() ?? (await this.start());
    l.stderr = '';
    try {
      await this.exchange(l, input, REQUEST_TIMEOUT_MS);
    } catch (e) {
      // Failed, stuck or complained: the next request gets a fresh process.
      this.live = undefined;
      end(l);
      throw e;
    }
  }

  private async start(): Promise<Live> {
    const { protocol, netns } = this.opts;
    const [cmd = '', ...args] = protocol.argv;
    const proc = netns ? spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const l: Live = { proc, stdout: '', stderr: '' };
    proc.stdout?.setEncoding('utf8');
    proc.stderr?.setEncoding('utf8');
    proc.stdout?.on('data', (d: string) => {
      l.stdout += d;
      l.wake?.();
    });
    proc.stderr?.on('data', (d: string) => void (l.stderr += d));
    const died = (why: string): void => {
      l.exited ??= why;
      l.wake?.();
    };
    proc.on('error', (e) => died(e.message));
    // 'close' (not 'exit'): by then stderr is fully read, so the error names the failed line.
    proc.on('close', (code, sig) => died(`exited (${sig ?? `code ${code}`})`));
    proc.stdin?.on('error', () => undefined); // a write to a process that died: seen as its close
    hold(l, false);
    try {
      await this.exchange(l, '', this.opts.startTimeoutMs ?? START_TIMEOUT_MS);
    } catch (e) {
      // No answer, or gone before answering (a missing stdbuf, say): one run per request from now
      // on, which either works or fails with the tool's own words.
      this.supported = false;
      end(l);
      throw e;
    }
    this.live = l;
    return l;
  }

  /** Writes one framed request, then waits for its answer, the process's end, or the timeout. */
  private exchange(l: Live, input: string, timeoutMs: number): Promise<void> {
    const { text, read } = this.opts.protocol.frame(input, ++this.seq);
    hold(l, true);
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        l.wake = undefined;
        hold(l, false);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        l.proc.kill('SIGKILL');
        done(new Error(`${this.description}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      l.wake = () => {
        const answer = read(l.stdout);
        if (answer) {
          l.stdout = l.stdout.slice(answer.consumed);
          return done(answer.error === undefined ? undefined : new Error(`${this.description}: ${answer.error}`));
        }
        if (l.exited !== undefined) done(new Error(`${this.description}: ${l.stderr.trim() || l.exited}`));
      };
      if (l.exited !== undefined) return l.wake();
      l.proc.stdin?.write(text);
    });
  }
}

/** Closes stdin and kills the process if it has not gone in 2 s. */
function end(l: Live): void {
  if (l.exited !== undefined) return;
  l.proc.stdin?.end();
  setTimeout(() => l.exited === undefined && l.proc.kill('SIGKILL'), 2_000).unref();
}

/** Keeps the event loop alive only while a request is in flight. */
function hold(l: Live, on: boolean): void {
  // With stdio 'pipe' the streams are sockets, which can be unref'd like the process.
  for (const h of [l.proc, l.proc.stdin, l.proc.stdout, l.proc.stderr] as ({ ref?(): void; unref?(): void } | null)[]) {
    if (on) h?.ref?.();
    else h?.unref?.();
  }
}
