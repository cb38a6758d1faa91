// The host-wide IPAM lock of the plugins' own datastore path, as Calico's CNI plugin holds a flock
// on /var/run/calico/ipam.lock around auto-assign: concurrent ADDs on one host then take turns,
// and each fills the host's block before the next claims one (without it, every racer claims a
// block of its own). Node has no flock; the lock is an abstract unix socket named after the lock
// file's path — binding it is exclusive, and the kernel releases it when the holder dies (SIGKILL
// included), as it releases a flock, so a killed plugin never leaves a stale lock behind.
import { createServer, type Server } from 'node:net';

/** Calico's path; the name of the lock (no file is written). */
export const DEFAULT_IPAM_LOCK = '/var/run/calico/ipam.lock';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen(`\0tortie-ipam-lock:${name}`, () => resolve(server));
  });
}

/** Runs fn holding the host's IPAM lock; waits for it until the deadline (epoch ms), then throws. */
export async function withHostLock<T>(name: string, deadline: number, fn: () => Promise<T>): Promise<T> {
  let server: Server | undefined;
  for (let attempt = 0; !(server = await bind(name)); attempt++) {
    const pause = Math.random() * Math.min(5 * (attempt + 1), 50);
    if (Date.now() + pause >= deadline) throw new Error(`timed out waiting for the host's IPAM lock ${name}`);
    await sleep(pause);
  }
  try {
    return await fn();
  } finally {
    const s = server;
    await new Promise<void>((r) => s.close(() => r()));
  }
}
