// Per-invocation state shared by commands: output streams, and a datastore client opened lazily
// (so `validate`, `--help` and usage errors never touch the network) and closed at the end.
import type { Backend } from '../datastore/backend.js';
import { createBackend } from '../datastore/backends/index.js';
import { ResourceClient } from '../datastore/client.js';
import { loadDatastoreConfig } from '../datastore/config.js';

export interface Output {
  write(text: string): void;
}

export interface GlobalOptions {
  config?: string;
}

export class CtlContext {
  private backend?: Backend;
  private resourceClient?: ResourceClient;

  constructor(
    readonly out: Output,
    readonly err: Output,
    private readonly globals: () => GlobalOptions,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  client(): ResourceClient {
    if (!this.resourceClient) {
      const config = loadDatastoreConfig({ configFile: this.globals().config, env: this.env });
      this.backend = createBackend(config);
      this.resourceClient = new ResourceClient(this.backend);
    }
    return this.resourceClient;
  }

  async close(): Promise<void> {
    const b = this.backend;
    this.backend = undefined;
    this.resourceClient = undefined;
    if (b) await b.close().catch(() => undefined);
  }
}
