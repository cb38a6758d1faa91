// One of our BGP processes (the speaker, bgp/cli, or tortie-rr, rr/main) run as a child inside a
// namespace, with its API socket and log in a temp dir; tests talk to it through the API socket.
// The entry runs compiled under `make test` (see entry.ts). Subclasses add their config handling.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { apiGet } from '../../bgp/api/client.js';
import type { ProcessStatus } from '../../bgp/api/server.js';
import type { PeerStatus, RouteStatus } from '../../bgp/speaker/types.js';
import { NetnsDaemon, removeTempDir, tempDir, waitFor } from './daemon.js';
import { entryArgv } from './entry.js';

export interface BgpProcOptions {
  /** Name in error messages, e.g. 'speaker'. */
  what: string;
  /** Temp dir prefix, e.g. 'tortie-spk-'. */
  dirPrefix: string;
  logName: string;
  /** Entry point from the repo root without extension, e.g. 'bgp/cli'. */
  entry: string;
  /** Arguments after the entry, given the temp dir and the API socket path. */
  args?: (dir: string, sock: string) => string[];
  /** Environment for the process, given the API socket path (set with `env`, since `ip netns exec` passes ours). */
  env?: (sock: string) => Record<string, string>;
}

export class BgpProc {
  readonly dir: string;
  readonly sock: string;
  protected readonly daemon: NetnsDaemon;
  private readonly what: string;
  private readonly logFile: string;

  protected constructor(
    readonly ns: string,
    opts: BgpProcOptions,
  ) {
    this.what = opts.what;
    this.dir = tempDir(opts.dirPrefix);
    this.sock = join(this.dir, 'bgp.sock');
    this.logFile = join(this.dir, opts.logName);
    const env = opts.env ? ['env', ...Object.entries(opts.env(this.sock)).map(([k, v]) => `${k}=${v}`)] : [];
    this.daemon = new NetnsDaemon(ns, [...env, ...entryArgv(opts.entry), ...(opts.args?.(this.dir, this.sock) ?? [])], this.logFile);
  }

  /** (Re)starts the process; resolves when the API answers. */
  async start(): Promise<void> {
    rmSync(this.sock, { force: true });
    this.daemon.start();
    await waitFor(`${this.what} API`, async () => {
      if (!this.daemon.running) throw new Error(`${this.what} exited: ${this.log().slice(-2000)}`);
      return apiGet<ProcessStatus>(this.sock, '/status');
    }, 30_000, 200);
  }

  get running(): boolean {
    return this.daemon.running;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  peers(): Promise<PeerStatus[]> {
    return apiGet<PeerStatus[]>(this.sock, '/peers');
  }

  async peer(address: string): Promise<PeerStatus | undefined> {
    return (await this.peers()).find((p) => p.address === address);
  }

  routes(): Promise<RouteStatus[]> {
    return apiGet<RouteStatus[]>(this.sock, '/routes');
  }

  signal(sig: NodeJS.Signals): void {
    this.daemon.signal(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.daemon.kill(sig);
  }

  /** Graceful first (Cease to peers), but never waits long for it; removes the temp dir. */
  async stop(): Promise<void> {
    await Promise.race([this.daemon.kill('SIGTERM'), new Promise((r) => setTimeout(r, 3000))]);
    await this.daemon.kill('SIGKILL');
    removeTempDir(this.dir);
  }
}

export async function waitPeerState(s: BgpProc, address: string, state: string, timeoutMs = 30_000): Promise<PeerStatus> {
  return waitFor(`peer ${address} ${state}`, async () => {
    const p = await s.peer(address);
    return p?.state === state ? p : undefined;
  }, timeoutMs, 200);
}
