// Containers for tests, with the flags these machines need (lab/podman.ts). Every container made
// here is removed by cleanup().
import { execFile } from 'node:child_process';
import { runtimeFlags } from '../../lab/podman.js';
import { run } from './exec.js';

export class ContainerSet {
  private readonly names: string[] = [];
  private counter = 0;

  constructor(private readonly prefix: string) {}

  /** A name this set will remove. */
  name(short: string): string {
    const n = `${this.prefix}${process.pid % 100000}-${short}-${this.counter++}`;
    this.names.push(n);
    return n;
  }

  /** `podman run --rm` to completion: stdout, stderr and the exit code. */
  runOnce(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = ['run', '--rm', '-i', '--name', this.name('once'), ...runtimeFlags(), ...args];
    return new Promise((resolve) => {
      const child = execFile('podman', argv, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      child.stdin?.end(input);
    });
  }

  /** A detached container; returns its name. */
  async start(short: string, args: string[]): Promise<string> {
    const name = this.name(short);
    await run('podman', ['run', '-d', '--name', name, ...runtimeFlags(), ...args]);
    return name;
  }

  logs(name: string): Promise<string> {
    return run('podman', ['logs', name]).then(
      (r) => r.stdout + r.stderr,
      () => '',
    );
  }

  /** Removes every container made here, running or not. Never throws. */
  async cleanup(): Promise<void> {
    for (const n of this.names.splice(0).reverse()) await run('podman', ['rm', '-f', '-t', '2', n]).catch(() => undefined);
  }
}
