// BIRD 2 inside a test namespace: config written by the test, control socket in a temp dir
// (a unix socket is reachable from the root namespace, so birdc needs no `ip netns exec`).
// stop() kills the daemon and removes the directory.
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { NetnsDaemon, removeTempDir, startOrStop, tempDir, waitFor } from './daemon.js';

export interface BirdRoute {
  prefix: string;
  /** `via` address when present. */
  via?: string;
  /** Protocol name the route came from. */
  protocol?: string;
  /** Attribute lines, e.g. { 'BGP.as_path': '65001', 'BGP.next_hop': '10.0.0.1', 'BGP.local_pref': '100' }. */
  attrs: Record<string, string>;
  /** The raw text block for this route (for error messages). */
  text: string;
}

export interface BirdProtocol {
  name: string;
  proto: string;
  state: string;
  since: string;
  info: string;
}

export class Bird {
  readonly dir: string;
  readonly sock: string;
  readonly confFile: string;
  private readonly daemon: NetnsDaemon;

  private constructor(
    readonly ns: string,
    config: string,
    extraArgs: string[],
  ) {
    this.dir = tempDir('tortie-bird-');
    this.sock = join(this.dir, 'bird.ctl');
    this.confFile = join(this.dir, 'bird.conf');
    writeFileSync(this.confFile, config);
    this.daemon = new NetnsDaemon(ns, ['bird', '-f', '-c', this.confFile, '-s', this.sock, '-P', join(this.dir, 'bird.pid'), ...extraArgs], join(this.dir, 'bird.log'));
  }

  /** Starts BIRD in `ns` with `config`; resolves when the control socket answers. */
  static async start(ns: string, config: string, extraArgs: string[] = []): Promise<Bird> {
    return startOrStop(new Bird(ns, config, extraArgs));
  }

  /** (Re)starts the daemon with the same config; `extraArgs` e.g. ['-R'] for graceful-restart recovery. */
  async start(extraArgs?: string[]): Promise<void> {
    if (extraArgs) this.daemon.argv.splice(8, this.daemon.argv.length - 8, ...extraArgs);
    rmSync(this.sock, { force: true });
    this.daemon.start();
    await waitFor('BIRD control socket', async () => {
      if (!this.daemon.running) throw new Error(`bird exited: ${this.log()}`);
      if (!existsSync(this.sock)) return undefined;
      await this.cmd('show status');
      return true;
    });
  }

  get pid(): number | undefined {
    return this.daemon.pid;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'bird.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  async cmd(command: string): Promise<string> {
    const r = await run('birdc', ['-s', this.sock, ...command.split(' ')]);
    return r.stdout;
  }

  /** Replaces the configuration and asks BIRD to reload it. */
  async reconfigure(config: string): Promise<void> {
    writeFileSync(this.confFile, config);
    const out = await this.cmd('configure');
    if (!/Reconfigur|Reconfiguration in progress|Reconfigured/.test(out)) throw new Error(`birdc configure: ${out}`);
  }

  async protocols(): Promise<BirdProtocol[]> {
    return parseProtocols(await this.cmd('show protocols'));
  }

  async protocol(name: string): Promise<BirdProtocol | undefined> {
    return (await this.protocols()).find((p) => p.name === name);
  }

  /** Waits until every named BGP protocol's session is Established (default 20 s). */
  async waitEstablished(protocols: string | string[], timeoutMs?: number): Promise<void> {
    const names = typeof protocols === 'string' ? [protocols] : protocols;
    await waitFor(`BIRD ${names.join(', ')} established`, async () => {
      const ps = await this.protocols();
      return names.every((n) => ps.find((p) => p.name === n)?.info === 'Established') ? true : undefined;
    }, timeoutMs);
  }

  async routes(table?: string): Promise<BirdRoute[]> {
    return parseRoutes(await this.cmd(`show route all${table ? ` table ${table}` : ''}`));
  }

  signal(sig: NodeJS.Signals): void {
    this.daemon.signal(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.daemon.kill(sig);
  }

  get running(): boolean {
    return this.daemon.running;
  }

  /** Kills BIRD and removes its directory. Safe to call twice. */
  async stop(): Promise<void> {
    await this.daemon.kill('SIGKILL');
    removeTempDir(this.dir);
  }
}

/** Parses `birdc show protocols` into rows (name, proto, table, state, since, info). */
export function parseProtocols(out: string): BirdProtocol[] {
  const rows: BirdProtocol[] = [];
  for (const line of out.split('\n')) {
    // "bgp1       BGP        ---        up     07:01:02.123  Established"
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(up|down|start|stop|flush)\s+(\S+(?:\s\S+)?)\s*(.*)$/.exec(line);
    if (!m || m[1] === 'Name') continue;
    rows.push({ name: m[1], proto: m[2], state: m[4], since: m[5], info: m[6].trim() });
  }
  return rows;
}

/** Parses `birdc show route all` into routes with their attribute lines. */
export function parseRoutes(out: string): BirdRoute[] {
  const routes: BirdRoute[] = [];
  let prefix = '';
  let cur: BirdRoute | undefined;
  for (const raw of out.split('\n')) {
    if (/^(BIRD|Table|Access restricted)/.test(raw) || raw.trim() === '') continue;
    const start = /^(\S+\/\d+)\s+(.*)$/.exec(raw);
    const alt = /^\s+(unicast|unreachable|blackhole|prohibit)\s+\[(\S+)/.exec(raw);
    if (start || (alt && prefix)) {
      if (start) prefix = start[1];
      const rest = start ? start[2] : raw;
      const proto = /\[(\S+?)[\s\]]/.exec(rest);
      cur = { prefix, protocol: proto?.[1], attrs: {}, text: raw };
      routes.push(cur);
      continue;
    }
    if (!cur) continue;
    cur.text += `\n${raw}`;
    const via = /^\s+via\s+(\S+)/.exec(raw);
    if (via) {
      cur.via = via[1];
      continue;
    }
    const attr = /^\s+([A-Za-z0-9_.]+):\s?(.*)$/.exec(raw);
    if (attr) cur.attrs[attr[1]] = attr[2].trim();
  }
  return routes;
}
