// Helpers for the route-reflection interop tests: tortie-rr (rr/main) as a child process inside a
// namespace with Calico routereflector env (BgpProc), and datastore writes through etcdctl run
// inside the etcd's namespace (the test process itself cannot reach a namespace's address).
import { resourceKey } from '../../datastore/keys.js';
import { BgpProc } from '../harness/bgp-proc.js';
import { startOrStop, waitFor } from '../harness/daemon.js';
import { run } from '../harness/exec.js';

export interface RrEnv {
  IP: string;
  CLUSTER_ID?: string;
  AS?: string;
  NODENAME?: string;
  ETCD_ENDPOINTS: string;
}

export class RrProc extends BgpProc {
  private constructor(
    ns: string,
    readonly env: RrEnv,
  ) {
    super(ns, { what: 'tortie-rr', dirPrefix: 'tortie-rr-', logName: 'rr.log', entry: 'rr/main', env: { ...env, TORTIE_GOBGP_API_HOSTS: '127.0.0.1:50051', LOG_LEVEL: 'debug' } });
  }

  static async start(ns: string, env: RrEnv): Promise<RrProc> {
    return startOrStop(new RrProc(ns, env));
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
