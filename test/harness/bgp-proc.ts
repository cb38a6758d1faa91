// One of our BGP processes (the speaker, bgp/cli, or tortie-rr, rr/main) run as a child inside a
// namespace, with its GoBGP API socket and log in a temp dir; tests talk to it through that API.
// The entry runs compiled under `make test` (see entry.ts). Subclasses add their config handling.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiUnavailableError, withApi } from '../../bgp/api/gobgp/client.js';
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
  /** Arguments after the entry, given the temp dir. */
  args?: (dir: string) => string[];
  /**
   * Environment for the process (set with `env`, since `ip netns exec` passes ours). The API's unix
   * socket is added to its TORTIE_GOBGP_API_HOSTS.
   */
  env?: Record<string, string>;
}

export class BgpProc {
  readonly dir: string;
  /** The GoBGP API as a client dials it (unix:/…/gobgp.sock). */
  readonly api: string;
  private readonly sockPath: string;
  protected readonly daemon: NetnsDaemon;
  private readonly what: string;
  private readonly logFile: string;

  protected constructor(
    readonly ns: string,
    opts: BgpProcOptions,
  ) {
    this.what = opts.what;
    this.dir = tempDir(opts.dirPrefix);
    this.sockPath = join(this.dir, 'gobgp.sock');
    this.api = `unix:${this.sockPath}`;
    this.logFile = join(this.dir, opts.logName);
    const hosts = [opts.env?.TORTIE_GOBGP_API_HOSTS, `unix://${this.sockPath}`].filter(Boolean).join(',');
    const env = Object.entries({ ...opts.env, TORTIE_GOBGP_API_HOSTS: hosts }).map(([k, v]) => `${k}=${v}`);
    this.daemon = new NetnsDaemon(ns, ['env', ...env, ...entryArgv(opts.entry), ...(opts.args?.(this.dir) ?? [])], this.logFile);
  }

  /** (Re)starts the process; resolves when the API answers. */
  async start(): Promise<void> {
    rmSync(this.sockPath, { force: true });
    this.daemon.start();
    await waitFor(`${this.what} API`, async () => {
      if (!this.daemon.running) throw new Error(`${this.what} exited: ${this.log().slice(-2000)}`);
      return withApi(this.api, (c) => c.getBgp()).catch((e: unknown) => {
        if (e instanceof ApiUnavailableError) throw e;
        return true; // answering, if only with an error
      });
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
    return withApi(this.api, (c) => c.peers());
  }

  async peer(address: string): Promise<PeerStatus | undefined> {
    return (await this.peers()).find((p) => p.address === address);
  }

  routes(): Promise<RouteStatus[]> {
    return withApi(this.api, (c) => c.routes());
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
