// Helpers for the route-reflection interop tests: tortie-rr (rr/main.ts through tsx) as a child
// process inside a namespace with Calico routereflector env, and datastore writes through etcdctl
// run inside the etcd's namespace (the test process itself cannot reach a namespace's address).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { apiGet } from '../../bgp/api/client.js';
import type { ProcessStatus } from '../../bgp/api/server.js';
import type { PeerStatus, RouteStatus } from '../../bgp/speaker/types.js';
import { resourceKey } from '../../datastore/keys.js';
import { NetnsDaemon, waitFor } from '../harness/daemon.js';
import { run } from '../harness/exec.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface RrEnv {
  IP: string;
  CLUSTER_ID?: string;
  AS?: string;
  NODENAME?: string;
  ETCD_ENDPOINTS: string;
}

export class RrProc {
  readonly dir: string;
  readonly sock: string;
  private readonly daemon: NetnsDaemon;

  private constructor(
    readonly ns: string,
    readonly env: RrEnv,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'tortie-rr-'));
    this.sock = join(this.dir, 'bgp.sock');
    const vars = Object.entries({ ...env, TORTIE_BGP_SOCKET: this.sock, LOG_LEVEL: 'debug' }).map(([k, v]) => `${k}=${v}`);
    this.daemon = new NetnsDaemon(ns, ['env', ...vars, process.execPath, '--import', 'tsx', join(ROOT, 'rr/main.ts')], join(this.dir, 'rr.log'));
  }

  static async start(ns: string, env: RrEnv): Promise<RrProc> {
    const r = new RrProc(ns, env);
    try {
      await r.start();
    } catch (err) {
      await r.stop();
      throw err;
    }
    return r;
  }

  async start(): Promise<void> {
    rmSync(this.sock, { force: true });
    this.daemon.start();
    await waitFor('tortie-rr API', async () => {
      if (!this.daemon.running) throw new Error(`tortie-rr exited: ${this.log().slice(-2000)}`);
      return apiGet<ProcessStatus>(this.sock, '/status');
    }, 30_000, 200);
  }

  get running(): boolean {
    return this.daemon.running;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'rr.log'), 'utf8');
    } catch {
      return '';
    }
  }

  peers(): Promise<PeerStatus[]> {
    return apiGet<PeerStatus[]>(this.sock, '/peers');
  }

  routes(): Promise<RouteStatus[]> {
    return apiGet<RouteStatus[]>(this.sock, '/routes');
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.daemon.kill(sig);
  }

  async stop(): Promise<void> {
    await Promise.race([this.daemon.kill('SIGTERM'), new Promise((r) => setTimeout(r, 3000))]);
    await this.daemon.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** etcdctl inside the etcd's namespace. */
export class EtcdCtl {
  constructor(
    readonly ns: string,
    readonly endpoint: string,
  ) {}

  async put(key: string, value: string): Promise<void> {
    await run('ip', ['netns', 'exec', this.ns, 'etcdctl', '--endpoints', this.endpoint, 'put', key], { input: value });
  }

  async get(key: string): Promise<string | undefined> {
    const r = await run('ip', ['netns', 'exec', this.ns, 'etcdctl', '--endpoints', this.endpoint, 'get', '--print-value-only', key]);
    const v = r.stdout.trim();
    return v || undefined;
  }

  /** Writes a v3 resource the way the datastore stores it. */
  async putResource(plural: string, kind: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Promise<void> {
    const doc = { apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...(labels ? { labels } : {}), creationTimestamp: new Date().toISOString() }, spec };
    await this.put(resourceKey(plural, name), JSON.stringify(doc));
  }
}

export async function waitAll<T>(what: string, items: readonly T[], probe: (x: T) => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await waitFor(what, async () => {
    for (const x of items) if (!(await probe(x))) return undefined;
    return true;
  }, timeoutMs, 250);
}
