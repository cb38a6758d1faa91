// tcpdump in a lab namespace for the VXLAN tests: lines as they come, started once it listens.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Capture {
  proc: ChildProcess;
  lines: string[];
  /** Resolves once tcpdump says its filter is attached: pinging earlier can go unseen on a busy host. */
  listening: Promise<void>;
}

export function capture(ns: string, iface: string, filter: string): Capture {
  const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '--immediate-mode', '-l', '-n', '-i', iface, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  const listening = new Promise<void>((resolve) => {
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    setTimeout(resolve, 15_000);
  });
  const lines: string[] = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { proc, lines, listening };
}

/** Stops a capture (SIGINT flushes what tcpdump holds) and waits for it to exit. */
export const stopCapture = (p: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGINT');
  });
