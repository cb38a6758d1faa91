// GoBGP 3 (gobgpd) inside a test namespace: TOML config written by the test, gRPC API on the
// namespace's own loopback (queried with `ip netns exec NS gobgp -p PORT -j …`). stop() kills it
// and removes its directory.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { NetnsDaemon, removeTempDir, startOrStop, tempDir, waitFor } from './daemon.js';

export const GOBGP_API_PORT = 50051;

const SESSION_STATES = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];

export class Gobgp {
  readonly dir: string;
  readonly confFile: string;
  private readonly daemon: NetnsDaemon;

  private constructor(
    readonly ns: string,
    config: string,
    readonly apiPort: number,
  ) {
    this.dir = tempDir('tortie-gobgp-');
    this.confFile = join(this.dir, 'gobgpd.toml');
    writeFileSync(this.confFile, config);
    this.daemon = new NetnsDaemon(
      ns,
      ['gobgpd', '-f', this.confFile, '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable', '-p', '-l', 'info'],
      join(this.dir, 'gobgpd.log'),
    );
  }

  static async start(ns: string, config: string, apiPort = GOBGP_API_PORT): Promise<Gobgp> {
    return startOrStop(new Gobgp(ns, config, apiPort));
  }

  async start(): Promise<void> {
    this.daemon.start();
    await waitFor('gobgpd API', async () => {
      if (!this.daemon.running) throw new Error(`gobgpd exited: ${this.log()}`);
      await this.cli(['global']);
      return true;
    });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'gobgpd.log'), 'utf8').slice(-6000);
    } catch {
      return '';
    }
  }

  /** Runs the gobgp CLI against this daemon and returns stdout. */
  async cli(args: string[]): Promise<string> {
    const r = await run('ip', ['netns', 'exec', this.ns, 'gobgp', '-u', '127.0.0.1', '-p', String(this.apiPort), ...args]);
    return r.stdout;
  }

  /** `gobgp -j global rib [-a ipv6]` parsed: prefix → paths. */
  async rib(family: 4 | 6 = 4): Promise<Record<string, GobgpPath[]>> {
    const out = await this.cli(['-j', 'global', 'rib', ...(family === 6 ? ['-a', 'ipv6'] : [])]);
    const trimmed = out.trim();
    return trimmed ? (JSON.parse(trimmed) as Record<string, GobgpPath[]>) : {};
  }

  /** `gobgp -j neighbor`: one entry per configured neighbour. */
  async neighbors(): Promise<GobgpNeighbor[]> {
    const out = (await this.cli(['-j', 'neighbor'])).trim();
    return out ? (JSON.parse(out) as GobgpNeighbor[]) : [];
  }

  async neighborState(address: string): Promise<string | undefined> {
    const n = (await this.neighbors()).find((x) => x.state?.neighbor_address === address || x.conf?.neighbor_address === address);
    const st = n?.state?.session_state;
    // The JSON carries the apipb enum number (6) or its name depending on the build.
    return typeof st === 'number' ? SESSION_STATES[st] : st?.toLowerCase();
  }

  /** Waits until the session with `address` is Established (default 20 s). */
  async waitEstablished(address: string, timeoutMs?: number, stepMs?: number): Promise<void> {
    await waitFor(`GoBGP session with ${address} established`, async () => ((await this.neighborState(address)) === 'established' ? true : undefined), timeoutMs, stepMs);
  }

  signal(sig: NodeJS.Signals): void {
    this.daemon.signal(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.daemon.kill(sig);
  }

  async stop(): Promise<void> {
    await this.daemon.kill('SIGKILL');
    removeTempDir(this.dir);
  }
}

/** One `[[neighbors]]` entry of a gobgpd TOML config; what is left out keeps GoBGP's default. */
export interface GobgpNeighborConf {
  address: string;
  peerAs: number;
  /** Seconds. */
  holdTime?: number;
  keepalive?: number;
  connectRetry?: number;
  passive?: boolean;
  /** TCP-MD5 password (RFC 2385). */
  authPassword?: string;
  /** Makes the neighbour a route-reflector client in this cluster. */
  rrClusterId?: string;
  /** Graceful restart (RFC 4724); `notification` sets the N bit (RFC 8538). Needs `families`. */
  gracefulRestart?: { restartTime: number; notification?: boolean };
  /** afi-safi names, e.g. 'ipv4-unicast'. */
  families?: string[];
  /** ADD-PATH (RFC 7911) for each family: send up to sendMax paths per prefix, and/or receive several. */
  addPaths?: { sendMax?: number; receive?: boolean };
}

export interface GobgpConf {
  as: number;
  routerId: string;
  /** Listen port; -1 listens nowhere (dial-only). */
  port?: number;
  localAddresses?: string[];
  neighbors: GobgpNeighborConf[];
}

/** gobgpd's TOML config for a global AS / router id and its neighbours. */
export function gobgpConfig(c: GobgpConf): string {
  const out = [`[global.config]\n  as = ${c.as}\n  router-id = "${c.routerId}"\n`];
  if (c.port !== undefined) out.push(`  port = ${c.port}\n`);
  if (c.localAddresses) out.push(`  local-address-list = [${c.localAddresses.map((a) => `"${a}"`).join(', ')}]\n`);
  for (const n of c.neighbors) {
    out.push(`[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "${n.address}"\n    peer-as = ${n.peerAs}\n`);
    if (n.authPassword) out.push(`    auth-password = "${n.authPassword}"\n`);
    if (n.passive) out.push('  [neighbors.transport.config]\n    passive-mode = true\n');
    const timers = [
      ['hold-time', n.holdTime],
      ['keepalive-interval', n.keepalive],
      ['connect-retry', n.connectRetry],
    ].filter(([, v]) => v !== undefined);
    if (timers.length) out.push(`  [neighbors.timers.config]\n${timers.map(([k, v]) => `    ${k} = ${v}\n`).join('')}`);
    if (n.rrClusterId) out.push(`  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    route-reflector-cluster-id = "${n.rrClusterId}"\n`);
    const gr = n.gracefulRestart;
    if (gr) out.push(`  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = ${gr.restartTime}\n${gr.notification ? '    notification-enabled = true\n' : ''}`);
    for (const f of n.families ?? []) {
      out.push(`  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "${f}"\n`);
      if (gr) out.push('    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n');
      const ap = n.addPaths;
      if (ap) out.push(`    [neighbors.afi-safis.add-paths.config]\n${ap.sendMax ? `      send-max = ${ap.sendMax}\n` : ''}${ap.receive ? '      receive = true\n' : ''}`);
    }
  }
  return out.join('');
}

export interface GobgpPath {
  nlri: { prefix: string };
  age?: number;
  best?: boolean;
  attrs: Array<{ type: number; [k: string]: unknown }>;
  'source-id'?: string;
  'neighbor-ip'?: string;
}

export interface GobgpNeighbor {
  conf?: { neighbor_address?: string; peer_asn?: number };
  state?: { neighbor_address?: string; session_state?: string | number; peer_asn?: number };
  [k: string]: unknown;
}

/** Attribute of a path by BGP type code (1 ORIGIN, 2 AS_PATH, 3 NEXT_HOP, 5 LOCAL_PREF, 8 COMMUNITIES…). */
export function pathAttr(p: GobgpPath, type: number): Record<string, unknown> | undefined {
  return p.attrs.find((a) => a.type === type);
}
