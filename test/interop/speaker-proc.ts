// Runs our speaker (bgp/cli) as a child process inside a namespace, with its JSON config and GoBGP
// API socket in a temp dir; the test talks to it through that API (BgpProc).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileConfig } from '../../bgp/speaker/file-config.js';
import { installedRoutes, type InstalledRoute } from '../../bgp/api/gobgp/client.js';
import { BgpProc } from '../harness/bgp-proc.js';
import { startOrStop } from '../harness/daemon.js';

export { waitPeerState } from '../harness/bgp-proc.js';

export type SpeakerFileConfig = Omit<FileConfig, 'peers' | 'originate'> & Partial<Pick<FileConfig, 'peers' | 'originate'>>;

/** The interop tests' short timers: a dead or frozen peer shows within seconds, not minutes. */
export const SHORT_TIMERS: Pick<SpeakerFileConfig, 'holdTime' | 'connectRetryTime' | 'errorWait'> = { holdTime: 9, connectRetryTime: 1, errorWait: [1, 2] };

/** A speaker bound to `address` (also its router id), IPv4 only, with the short timers. */
export function v4Speaker(address: string, asNumber: number, peers: FileConfig['peers'], originate: FileConfig['originate']): SpeakerFileConfig {
  return { asNumber, routerId: address, listenAddresses: [address], ...SHORT_TIMERS, families: [4], peers, originate };
}

export class SpeakerProc extends BgpProc {
  readonly confFile: string;

  private constructor(ns: string, config: SpeakerFileConfig, env?: Record<string, string>) {
    super(ns, { what: 'speaker', dirPrefix: 'tortie-spk-', logName: 'speaker.log', entry: 'bgp/cli', args: (dir) => [join(dir, 'bgp.json')], ...(env ? { env } : {}) });
    this.confFile = join(this.dir, 'bgp.json');
    this.write(config);
  }

  /** `env`: extra environment, e.g. TORTIE_GOBGP_API_HOSTS to serve the GoBGP API. */
  static async start(ns: string, config: SpeakerFileConfig, env?: Record<string, string>): Promise<SpeakerProc> {
    return startOrStop(new SpeakerProc(ns, config, env));
  }

  private write(config: SpeakerFileConfig): void {
    writeFileSync(this.confFile, JSON.stringify({ logLevel: 'debug', ...config }, null, 2));
  }

  /** Rewrites the config and sends SIGHUP. */
  reconfigure(config: SpeakerFileConfig): void {
    this.write(config);
    this.daemon.signal('SIGHUP');
  }

  /** The best routes learned from peers: what the route sink was told to program. */
  async installed(): Promise<InstalledRoute[]> {
    return installedRoutes(await this.routes());
  }
}
