// Backend over etcd v3 (package etcd3), talking to its KV and Watch gRPC services directly so that
// revisions, CAS compares and watch cancellation (compaction) are visible exactly as etcd reports them.
// Values are stored byte-for-byte as given (the resource layer writes Calico's JSON).
import { Etcd3, CompareResult, CompareTarget, type IKeyValue, type IRequestOp, type ICompare, type IWatchResponse, type IEvent } from 'etcd3';
import { noop } from 'cockatiel';
import { rootCertificates } from 'node:tls';
import {
  DatastoreError,
  type Backend,
  type KV,
  type ListResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from './kv.js';

export interface EtcdTlsCredentials {
  /** PEM CA certificate that signed the server's certificate; the system roots when absent. */
  ca?: Buffer;
  /** PEM client certificate and key, when etcd requires client-cert auth. */
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdBackendOptions {
  /** e.g. ["http://127.0.0.1:2379"]; a scheme is required (https when TLS is used). */
  endpoints: string[];
  tls?: EtcdTlsCredentials;
  /** etcd user/password authentication (calico's etcdUsername / etcdPassword). */
  auth?: { username: string; password: string };
  /**
   * Budget for one operation including fail-over between endpoints. Unreachable etcd must be reported
   * well within 5 s, so the default is 4 s (etcd3 would otherwise retry and circuit-break on its own).
   */
  callTimeoutMs?: number;
  /** Keys per page when listing, so huge prefixes never hit gRPC message limits. */
  listPageSize?: number;
}

/**
 * TORTIE_ETCD_CALL_TIMEOUT_MS, when set, replaces the per-call budget (the 4 s default and a
 * caller's own, such as tortiectl's 3 s): under CPU emulation (the IPIP lab's qemu VM) a healthy
 * etcd can take longer than that to answer. An operator's override, so it wins.
 */
export function callTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.TORTIE_ETCD_CALL_TIMEOUT_MS?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new DatastoreError('Invalid', `TORTIE_ETCD_CALL_TIMEOUT_MS must be a positive whole number of milliseconds, got "${raw}"`);
  return ms;
}

const HINT = 'check that etcd is running and that ETCD_ENDPOINTS (or etcdEndpoints in the config file) and the TLS files are right';

/** The first key after every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] as number) < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  // Prefix of all 0xff (or empty): to the end of the keyspace.
  return Buffer.from([0]);
}

function toKV(kv: IKeyValue): KV {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  };
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

let sniWarningMuted = false;
/**
 * grpc-js sets the TLS server name to the endpoint host, and Node warns (DEP0123) when that is an IP
 * address — which is how etcd endpoints are usually written. The warning is harmless here but would
 * be printed on every tortiectl run, so exactly that one warning is dropped; all others pass.
 */
function muteIpSniWarning(): void {
  if (sniWarningMuted) return;
  sniWarningMuted = true;
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const opt = rest[0];
    const code = typeof opt === 'object' && opt !== null ? (opt as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    original(warning, ...rest);
  }) as typeof process.emitWarning;
}

export class EtcdBackend implements Backend {
  readonly description: string;
  /** One client per endpoint, so fail-over order is ours: the last endpoint that answered goes first. */
  private readonly clients: Etcd3[];
  private preferred = 0;
  private readonly callTimeoutMs: number;
  private readonly pageSize: number;
  private readonly watches = new Set<() => void>();
  private closed = false;

  constructor(opts: EtcdBackendOptions) {
    if (opts.endpoints.length === 0) throw new DatastoreError('Invalid', 'no etcd endpoints given (ETCD_ENDPOINTS / etcdEndpoints)');
    for (const ep of opts.endpoints) {
      if (!/^https?:\/\/[^/]+\/?$/.test(ep)) {
        throw new DatastoreError('Invalid', `etcd endpoint "${ep}" must look like http://HOST:PORT or https://HOST:PORT`);
      }
    }
    const secure = opts.endpoints.filter((e) => e.startsWith('https://')).length;
    if (secure !== 0 && secure !== opts.endpoints.length) {
      throw new DatastoreError('Invalid', `etcd endpoints mix http and https: ${opts.endpoints.join(',')}`);
    }
    this.description = `etcdv3 at ${opts.endpoints.join(',')}`;
    this.callTimeoutMs = callTimeoutFromEnv() ?? opts.callTimeoutMs ?? 4000;
    this.pageSize = opts.listPageSize ?? 500;
    if (secure) muteIpSniWarning();
    this.clients = opts.endpoints.map((endpoint) => new Etcd3({
      hosts: [endpoint],
      ...(opts.tls
        ? { credentials: { rootCertificate: opts.tls.ca ?? Buffer.from(rootCertificates.join('\n')), ...(opts.tls.key ? { privateKey: opts.tls.key } : {}), ...(opts.tls.cert ? { certChain: opts.tls.cert } : {}) } }
        : {}),
      ...(opts.auth ? { auth: { ...opts.auth, callOptions: () => ({ deadline: Date.now() + this.callTimeoutMs }) } } : {}),
      // We bound every call ourselves and report failure to the caller, who decides (syncer: back-off
      // and re-list). etcd3's default retry + circuit breaker would hide an outage for seconds.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        // Notice a dead peer under an open watch; etcd permits pings every 5 s or slower.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    }));
  }

  async get(key: string): Promise<KV | undefined> {
    const res = await this.call('get', key, (c, deadline) => c.kv.range({ key: Buffer.from(key) }, { deadline }));
    const kv = res.kvs[0];
    return kv ? toKV(kv) : undefined;
  }

  async list(prefix: string): Promise<ListResult> {
    const end = prefixEnd(prefix);
    const items: KV[] = [];
    let from: Buffer = Buffer.from(prefix, 'utf8');
    let revision: number | undefined;
    // Pages are read at the first page's revision so the listing is one consistent snapshot.
    while (true) {
      const res = await this.call('list', prefix, (c, deadline) =>
        c.kv.range({ key: from, range_end: end, limit: this.pageSize, ...(revision ? { revision } : {}) }, { deadline }),
      );
      revision ??= Number(res.header.revision);
      for (const kv of res.kvs) items.push(toKV(kv));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { items, revision };
  }

  async create(key: string, value: string): Promise<KV> {
    validKey(key);
    const res = await this.call('create', key, (c, deadline) =>
      c.kv.txn(
        {
          compare: [modIs(key, 0)],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value, 'utf8') } }],
        },
        { deadline },
      ),
    );
    if (!res.succeeded) throw new DatastoreError('AlreadyExists', `${key} already exists`, key);
    const rev = Number(res.header.revision);
    return { key, value, modRevision: rev, createRevision: rev };
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KV> {
    validKey(key);
    const res = await this.call('update', key, (c, deadline) =>
      c.kv.txn(
        {
          compare: [modIs(key, expectedModRevision), exists(key)],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value, 'utf8'), prev_kv: true } }],
          failure: [{ request_range: { key: Buffer.from(key) } }],
        },
        { deadline },
      ),
    );
    if (!res.succeeded) throw this.casFailure(key, expectedModRevision, res.responses[0]?.response_range?.kvs[0]);
    const prev = res.responses[0]?.response_put?.prev_kv;
    const rev = Number(res.header.revision);
    return { key, value, modRevision: rev, createRevision: prev ? Number(prev.create_revision) : rev };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KV> {
    validKey(key);
    const del: IRequestOp = { request_delete_range: { key: Buffer.from(key), prev_kv: true } };
    const compare = expectedModRevision === undefined ? [exists(key)] : [modIs(key, expectedModRevision), exists(key)];
    const res = await this.call('delete', key, (c, deadline) =>
      c.kv.txn({ compare, success: [del], failure: [{ request_range: { key: Buffer.from(key) } }] }, { deadline }),
    );
    if (!res.succeeded) throw this.casFailure(key, expectedModRevision ?? 0, res.responses[0]?.response_range?.kvs[0]);
    const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
    if (!prev) throw new DatastoreError('NotFound', `${key} does not exist`, key);
    return toKV(prev);
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    let done = false;
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>> | undefined;
    const finish = (err?: DatastoreError): void => {
      if (done) return;
      done = true;
      this.watches.delete(stop);
      try {
        stream?.cancel();
      } catch {
        /* already gone */
      }
      if (err) handlers.onError(err);
    };
    const stop = (): void => finish();
    this.watches.add(stop);
    const unavailable = (detail: string): DatastoreError =>
      new DatastoreError('Unavailable', `watch of ${prefix} on ${this.description} ended: ${detail}; ${HINT}`);

    const onData = (res: IWatchResponse): void => {
      if (done) return;
      if (res.compact_revision && res.compact_revision !== '0') {
        finish(
          new DatastoreError(
            'Compacted',
            `watch of ${prefix} from revision ${fromRevision}: required revision has been compacted (compacted at ${res.compact_revision})`,
          ),
        );
        return;
      }
      if (res.canceled) {
        finish(unavailable(`etcd cancelled the watch${res.cancel_reason ? `: ${res.cancel_reason}` : ''}`));
        return;
      }
      if (res.events.length === 0) return;
      handlers.onEvents(res.events.map(toEvent));
    };

    if (this.closed) {
      queueMicrotask(() => finish(unavailable('client closed')));
      return { close: async () => {} };
    }
    (this.clients[this.preferred] as Etcd3).watchClient
      .watch()
      .then((s) => {
        stream = s;
        // Cancelling makes the stream emit an error (CANCELLED): it must have a listener.
        s.on('error', () => {});
        if (done) {
          s.cancel();
          return;
        }
        s.on('data', onData);
        s.on('error', (err) => finish(unavailable(errText(err))));
        s.on('end', () => finish(unavailable('stream ended')));
        s.write({
          create_request: {
            key: Buffer.from(prefix, 'utf8'),
            range_end: prefixEnd(prefix),
            ...(fromRevision > 0 ? { start_revision: fromRevision } : {}),
            prev_kv: true,
          },
        });
      })
      .catch((err: unknown) => finish(unavailable(errText(err))));
    return {
      close: async () => finish(),
    };
  }

  /** Compacts etcd's history up to `revision` (like `etcdctl compact`); for tests and maintenance. */
  async compact(revision: number): Promise<void> {
    await this.call('compact', '', (c, deadline) => c.kv.compact({ revision, physical: true }, { deadline }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.watches]) stop();
    for (const c of this.clients) c.close();
  }

  private casFailure(key: string, expected: number, current: IKeyValue | undefined): DatastoreError {
    if (!current) return new DatastoreError('NotFound', `${key} does not exist`, key);
    return new DatastoreError('Conflict', `${key} was modified (revision ${current.mod_revision}, expected ${expected})`, key);
  }

  /**
   * Runs one RPC within the call budget, failing over to another endpoint when one is unreachable,
   * and turns gRPC/etcd errors into DatastoreErrors that name the endpoint.
   */
  private async call<T>(op: string, key: string, fn: (client: Etcd3, deadline: Date) => Promise<T>): Promise<T> {
    if (this.closed) throw new DatastoreError('Unavailable', `${this.description}: client closed`, key || undefined);
    const deadline = Date.now() + this.callTimeoutMs;
    const n = this.clients.length;
    // Two rounds over the endpoints: enough to skip a dead member and ride over a reconnect, few
    // enough that a refused connection is reported at once (the syncer retries with its own back-off).
    for (let attempt = 0; ; attempt++) {
      const idx = (this.preferred + attempt) % n;
      try {
        const res = await fn(this.clients[idx] as Etcd3, new Date(deadline));
        this.preferred = idx;
        return res;
      } catch (err) {
        const mapped = this.mapError(op, key, err);
        if (mapped.code !== 'Unavailable' || attempt + 1 >= 2 * n || Date.now() + 100 >= deadline || this.closed) throw mapped;
        if ((attempt + 1) % n === 0) await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private mapError(op: string, key: string, err: unknown): DatastoreError {
    if (err instanceof DatastoreError) return err;
    const msg = errText(err);
    const k = key || undefined;
    if (/required revision has been compacted/.test(msg)) return new DatastoreError('Compacted', `${op} ${key}: ${msg}`, k);
    if (/request is too large|too many operations in txn/.test(msg)) return new DatastoreError('Invalid', `${op} ${key}: ${msg}`, k);
    const detail = /deadline exceeded/i.test(msg) ? `no answer within ${this.callTimeoutMs} ms` : explainConnectError(msg);
    // A TLS diagnosis already says what to fix; the generic hint is for everything else.
    const hint = /^(TLS|etcd's)/.test(detail) ? '' : `; ${HINT}`;
    return new DatastoreError('Unavailable', `cannot reach ${this.description} (${op}${key ? ` ${key}` : ''}): ${detail}${hint}`, k);
  }
}

/**
 * gRPC's connection errors are noisy ("14 UNAVAILABLE: No connection established. Last error: 80BC…:error:
 * 0A000412:SSL routines…"): say what went wrong in words a person can act on.
 */
export function explainConnectError(msg: string): string {
  if (/alert bad certificate|certificate required|alert number (42|116)/i.test(msg)) {
    return 'TLS handshake refused by etcd: it requires a client certificate signed by its CA (set ETCD_CERT_FILE and ETCD_KEY_FILE / etcdCertFile and etcdKeyFile)';
  }
  if (/unable to verify|self[- ]signed|unable to get local issuer|certificate signature failure/i.test(msg)) {
    return "etcd's server certificate is not signed by the CA given in ETCD_CA_CERT_FILE / etcdCACertFile";
  }
  if (/does not match certificate's altnames|Hostname\/IP does not match/i.test(msg)) {
    return "etcd's server certificate does not name the host or IP in the endpoint";
  }
  if (/certificate has expired|not yet valid/i.test(msg)) return `etcd's TLS certificate is not valid now (${/certificate has expired/i.test(msg) ? 'expired' : 'not yet valid'})`;
  if (/wrong version number|packet length too long|http_request/i.test(msg)) {
    return 'TLS/plain-text mismatch: use https:// for an etcd that serves TLS and http:// for one that does not';
  }
  const refused = /ECONNREFUSED/.exec(msg);
  if (refused) return 'connection refused (nothing listens there)';
  return msg
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '')
    .replace(/\s*Resolution note:\s*;?\s*$/, '')
    .replace(/Last error: (Error: )?/, '')
    .replace(/\.\s*$/, '')
    .trim();
}

function modIs(key: string, modRevision: number): ICompare {
  return { key: Buffer.from(key, 'utf8'), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: modRevision };
}

function exists(key: string): ICompare {
  return { key: Buffer.from(key, 'utf8'), target: CompareTarget.Version, result: CompareResult.Greater, version: 0 };
}

function validKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new DatastoreError('Invalid', 'key must be a non-empty string');
}

function toEvent(e: IEvent): WatchEvent {
  const prev = e.prev_kv ? toKV(e.prev_kv) : undefined;
  if (e.type === 'Delete') {
    return { type: 'delete', key: e.kv.key.toString('utf8'), revision: Number(e.kv.mod_revision), ...(prev ? { prev } : {}) };
  }
  return { type: 'put', kv: toKV(e.kv), ...(prev ? { prev } : {}) };
}
