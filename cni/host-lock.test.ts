// The host IPAM lock: one holder at a time, across processes, and a holder killed with SIGKILL
// releases it (the kernel drops its socket, as it drops a flock).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { withHostLock } from './host-lock.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('withHostLock', () => {
  it('runs one holder at a time', async () => {
    const name = `/run/test-lock-${process.pid}-a`;
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withHostLock(name, Date.now() + 30_000, async () => {
          most = Math.max(most, ++inside);
          await sleep(2);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it('gives up at the deadline while another holds it', async () => {
    const name = `/run/test-lock-${process.pid}-b`;
    await withHostLock(name, Date.now() + 5000, async () => {
      await expect(withHostLock(name, Date.now() + 100, async () => 1)).rejects.toThrow(/IPAM lock/);
    });
  });

  it('a holder killed with SIGKILL leaves no stale lock', async () => {
    const name = `/run/test-lock-${process.pid}-c`;
    // A process that binds the lock's socket and sleeps.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen('\\0tortie-ipam-lock:${name}', () => console.log('held')); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    await expect(withHostLock(name, Date.now() + 100, async () => 1)).rejects.toThrow(/IPAM lock/);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await expect(withHostLock(name, Date.now() + 5000, async () => 'got it')).resolves.toBe('got it');
  });
});
