// Per-invocation state shared by commands: output streams, and a datastore client opened lazily
// (so `validate`, `--help` and usage errors never touch the network) and closed at the end.
import { createStore } from '../datastore/backends/index.js';
import type { Store } from '../datastore/store.js';
import { ResourceClient } from '../datastore/client.js';
import { loadDatastoreConfig } from '../datastore/config.js';

export const CTL_CALL_TIMEOUT_MS = 3000;

export interface Output {
  write(text: string): void;
}

export interface GlobalOptions {
  config?: string;
}

export class CtlContext {
  private store?: Store;
  private resourceClient?: ResourceClient;

  constructor(
    readonly out: Output,
    readonly err: Output,
    private readonly globals: () => GlobalOptions,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  async client(): Promise<ResourceClient> {
    if (!this.resourceClient) {
      const config = loadDatastoreConfig({ configFile: this.globals().config, env: this.env });
      // A config that was read with a guess (flat calicoApiConfig, etcdv2, TLS files with http) still
      // works, but the person should know what was assumed.
      for (const w of config.warnings) this.err.write(`warning: ${w}\n`);
      // 3 s per call leaves room for Node's start-up inside the promised 5 s for an unreachable etcd
      // (a silent endpoint otherwise took 4 s + start-up ≈ 5.9 s).
      this.store = await createStore(config, { callTimeoutMs: CTL_CALL_TIMEOUT_MS });
      this.resourceClient = new ResourceClient(this.store);
    }
    return this.resourceClient;
  }

  async close(): Promise<void> {
    const b = this.store;
    this.store = undefined;
    this.resourceClient = undefined;
    if (b) await b.close().catch(() => undefined);
  }
}
