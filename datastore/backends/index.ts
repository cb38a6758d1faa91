// Turns a connection config into a Backend. Reading the TLS files happens here (not in the pure
// config parser) so that a missing or unreadable file is reported with the field that named it.
import { readFileSync } from 'node:fs';
import type { Backend } from './kv.js';
import { DatastoreConfigError, type DatastoreConfig } from '../config.js';
import { EtcdBackend, type EtcdTlsCredentials } from './etcd.js';

import { EtcdStore } from './etcd-store.js';
import { MemoryBackend, type MemoryBackendOptions } from './memory.js';
import type { Store } from '../store.js';

export { EtcdBackend } from './etcd.js';
export { MemoryBackend } from './memory.js';
export { EtcdStore } from './etcd-store.js';

/**
 * The datastore named by a connection config, as a Store. Async because the Kubernetes backend
 * (@kubernetes/client-node, ESM-only and ~0.4 s to load) is imported only when the config asks
 * for it: an etcd command never pays for it.
 */
export async function createStore(config: DatastoreConfig, opts: CreateBackendOptions = {}): Promise<Store> {
  if (config.type === 'kubernetes') {
    const { kubernetesStoreFromConfig } = await import('./kubernetes/index.js');
    return kubernetesStoreFromConfig(config, { ...(opts.callTimeoutMs ? { timeoutMs: opts.callTimeoutMs } : {}), ...(opts.watchCache ? { watchCache: opts.watchCache } : {}) });
  }
  return new EtcdStore(createBackend(config, opts));
}

/** The in-process store: Calico's etcd layout over the memory KV (which passes the etcd KV conformance). */
export function createMemoryStore(opts: MemoryBackendOptions = {}): EtcdStore {
  return new EtcdStore(new MemoryBackend(opts));
}

export interface CreateBackendOptions {
  /** Per-call budget, default 4 s (unreachable etcd must be reported within 5 s). */
  callTimeoutMs?: number;
  /** Injected for tests. */
  readFile?: (path: string) => Buffer;
  /** Kubernetes datastore: kinds whose cached reads a long-running client answers from its own watch (KubernetesStoreOptions.watchCache). */
  watchCache?: readonly string[];
}

export function createBackend(config: DatastoreConfig, opts: CreateBackendOptions = {}): Backend {
  if (config.type === 'kubernetes') {
    throw new DatastoreConfigError(
      `${config.source}: datastoreType kubernetes has no etcd key/value layer; this component needs the etcd datastore (DATASTORE_TYPE=etcdv3 with ETCD_ENDPOINTS) until it runs on the Store contract (kubeconfig ${config.kubeconfig ?? 'not set'})`,
      config.source,
      'datastoreType',
    );
  }
  const read = opts.readFile ?? ((p: string) => readFileSync(p));
  const e = config.etcd;
  const load = (file: string | undefined, inline: string | undefined, field: string): Buffer | undefined => {
    if (inline) return Buffer.from(inline, 'utf8');
    if (!file) return undefined;
    try {
      return read(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new DatastoreConfigError(`${config.source}: ${field} ${file}: ${why}`, config.source, field);
    }
  };
  const secure = e.endpoints.every((ep) => ep.startsWith('https://'));
  let tls: EtcdTlsCredentials | undefined;
  if (secure) {
    const ca = load(e.caCertFile, e.caCert, 'etcdCACertFile');
    const cert = load(e.certFile, e.cert, 'etcdCertFile');
    const key = load(e.keyFile, e.key, 'etcdKeyFile');
    // Without a CA file the system roots are used (etcd3 does that when given no credentials).
    if (ca || cert || key) tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }
  return new EtcdBackend({
    endpoints: e.endpoints,
    ...(tls ? { tls } : {}),
    ...(e.username ? { auth: { username: e.username, password: e.password ?? '' } } : {}),
    ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}),
  });
}
