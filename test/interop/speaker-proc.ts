// Runs our speaker (bgp/cli.ts, through tsx) as a child process inside a namespace, with its
// JSON config and API socket in a temp dir; the test talks to it through the API socket.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { apiGet } from '../../bgp/api/client.js';
import type { InstalledRoute, ProcessStatus } from '../../bgp/api/server.js';
import type { FileConfig } from '../../bgp/speaker/file-config.js';
import type { PeerStatus, RouteStatus } from '../../bgp/speaker/types.js';
import { NetnsDaemon, waitFor } from '../harness/daemon.js';

const ROOT = resolve(import.meta.dirname, '../..');

export type SpeakerFileConfig = Omit<FileConfig, 'apiSocket' | 'peers' | 'originate'> & Partial<Pick<FileConfig, 'peers' | 'originate'>>;

export class SpeakerProc {
  readonly dir: string;
  readonly confFile: string;
  readonly sock: string;
  private readonly daemon: NetnsDaemon;

  private constructor(
    readonly ns: string,
    config: SpeakerFileConfig,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'tortie-spk-'));
    this.confFile = join(this.dir, 'bgp.json');
    this.sock = join(this.dir, 'bgp.sock');
    this.write(config);
    this.daemon = new NetnsDaemon(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'bgp/cli.ts'), this.confFile], join(this.dir, 'speaker.log'));
  }

  static async start(ns: string, config: SpeakerFileConfig): Promise<SpeakerProc> {
    const s = new SpeakerProc(ns, config);
    try {
      await s.start();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  private write(config: SpeakerFileConfig): void {
    writeFileSync(this.confFile, JSON.stringify({ logLevel: 'debug', ...config, apiSocket: this.sock }, null, 2));
  }

  async start(): Promise<void> {
    rmSync(this.sock, { force: true });
    this.daemon.start();
    await waitFor('speaker API', async () => {
      if (!this.daemon.running) throw new Error(`speaker exited: ${this.log().slice(-2000)}`);
      return apiGet<ProcessStatus>(this.sock, '/status');
    }, 30_000, 200);
  }

  /** Rewrites the config and sends SIGHUP. */
  reconfigure(config: SpeakerFileConfig): void {
    this.write(config);
    this.daemon.signal('SIGHUP');
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'speaker.log'), 'utf8');
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

  installed(): Promise<InstalledRoute[]> {
    return apiGet<InstalledRoute[]>(this.sock, '/installed');
  }

  signal(sig: NodeJS.Signals): void {
    this.daemon.signal(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.daemon.kill(sig);
  }

  async stop(): Promise<void> {
    // Graceful first (Cease to peers), but never wait long for it.
    await Promise.race([this.daemon.kill('SIGTERM'), new Promise((r) => setTimeout(r, 3000))]);
    await this.daemon.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitPeerState(s: SpeakerProc, address: string, state: string, timeoutMs = 30_000): Promise<PeerStatus> {
  return waitFor(`peer ${address} ${state}`, async () => {
    const p = await s.peer(address);
    return p?.state === state ? p : undefined;
  }, timeoutMs, 200);
}
