// The thin I/O shell over the Kubernetes API: JSON requests and watch streams with the
// credentials @kubernetes/client-node reads from a kubeconfig (certificates, tokens, exec
// plugins). Requests go through node:https directly so every call has a hard time budget
// (an unreachable apiserver is an error within 5 s, never a hang) and a watch's end is seen
// exactly; client-node's generated clients offer neither.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import { DatastoreError } from '../../errors.js';
import { isKubeStatus, socketToError, statusToError, type KubeStatus } from './errors.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList {
  metadata: { resourceVersion: string; continue?: string };
  items: KubeObject[];
}

export type KubeWatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: KubeObject };

export interface KubeWatchHandlers {
  onEvent(ev: KubeWatchEvent): void;
  /** The watch is over; never called after close(). */
  onEnd(err: DatastoreError): void;
}

export interface KubeApiOptions {
  /** Per-request budget, default 4 s. */
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Budget for connecting and the TLS handshake (a loopback or LAN apiserver needs milliseconds). */
const CONNECT_TIMEOUT_MS = 2000;

interface Creds {
  options: RequestOptions;
  until: number;
}

/**
 * The kubeconfig as Calico finds it: the given file, else the default chain (KUBECONFIG,
 * ~/.kube/config, the in-cluster service account). `server` overrides the cluster's address
 * (Calico's k8sAPIEndpoint). Anything unusable is Unavailable, naming the file.
 */
export function loadKubeConfig(path: string | undefined, server?: string): KubeConfig {
  const kc = new KubeConfig();
  const where = path ?? 'the default kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)';
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new DatastoreError('Unavailable', `kubeconfig ${where}: ${why} (KUBECONFIG)`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new DatastoreError('Unavailable', `kubeconfig ${where}: no current context with a cluster (KUBECONFIG)`);
  if (server) {
    const clusters = kc.getClusters().map((c) => (c.name === cluster.name ? { ...c, server } : c));
    kc.loadFromOptions({ clusters, users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext() });
  }
  return kc;
}

export class KubeApi {
  readonly server: string;
  private readonly timeoutMs: number;
  private creds: Creds | undefined;
  private agent: HttpAgent | HttpsAgent | undefined;

  constructor(
    private readonly kc: KubeConfig,
    opts: KubeApiOptions = {},
  ) {
    this.server = (kc.getCurrentCluster()?.server ?? '').replace(/\/$/, '');
    this.timeoutMs = opts.timeoutMs ?? 4000;
  }

  /**
   * Credentials from the kubeconfig: the TLS material once, in one keep-alive agent (a TLS
   * handshake per connection, not per call; watches live on it), the headers (bearer tokens from
   * exec plugins expire) refreshed every 30 s.
   */
  private async credentials(): Promise<RequestOptions> {
    if (this.creds && this.creds.until > Date.now()) return this.creds.options;
    const o: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    let agent = this.agent;
    if (!agent) {
      const tls = { ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, servername: o.servername, ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}) };
      agent = this.server.startsWith('https:') ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
      this.agent = agent;
    }
    this.creds = { options: { headers: o.headers, auth: o.auth, agent }, until: Date.now() + 30_000 };
    return this.creds.options;
  }

  /**
   * Sends a request, again while the apiserver answers 429 (it does while a resource's storage is
   * (re)initialising after a restart), as client-go does; within the call's budget.
   */
  private async open(method: Method, path: string, body: unknown, contentType: string, what: string): Promise<IncomingMessage> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const res = await this.send(method, path, body, contentType, Math.max(deadline - Date.now(), 1), what);
      if (res.statusCode !== 429) return res;
      const wait = Math.min(Number(res.headers['retry-after']) * 1000 || 250, 1000);
      if (Date.now() + wait >= deadline) return res;
      res.resume();
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async send(method: Method, path: string, body: unknown, contentType: string, budget: number, what: string, again = false): Promise<IncomingMessage> {
    const creds = await this.credentials();
    const url = new URL(this.server + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json', ...(creds.headers as Record<string, string> | undefined) };
    // A sized body, never chunked: Go's server may answer before reading a chunked body's last
    // chunk, which then reads as a malformed next request on the kept-alive connection (400).
    if (payload !== undefined) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = requestFn(url, { method, headers, agent: creds.agent, ...(creds.auth ? { auth: creds.auth } : {}) }, (res) => {
        if (timer) clearTimeout(timer);
        resolve(res);
      });
      let timer: NodeJS.Timeout | undefined = setTimeout(() => {
        timer = undefined;
        req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
      }, budget);
      // A server that accepts but never completes the handshake is given less than the call's
      // budget, so a command started on a loaded machine still reports it within 5 s.
      // What a timeout reports: the handshake's own limit when that is what ran out.
      let waitedMs = budget;
      req.on('socket', (sock) => {
        if (!sock.connecting) return; // a kept-alive connection, already up
        const handshake = setTimeout(() => {
          waitedMs = Math.min(budget, CONNECT_TIMEOUT_MS);
          req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
        }, Math.min(budget, CONNECT_TIMEOUT_MS));
        sock.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(handshake));
        sock.once('close', () => clearTimeout(handshake));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        // A kept-alive connection the server closed meanwhile (restarted, or it timed the idle
        // connection out): a read is asked again once on a fresh connection, as Node's docs advise,
        // so the answer describes the server now, not the connection it dropped.
        if (!again && method === 'GET' && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          resolve(this.send(method, path, body, contentType, budget, what, true));
          return;
        }
        const e = socketToError(this.server, err, waitedMs);
        reject(new DatastoreError(e.code, `${e.message} [${what}]`, what));
      });
      req.end(payload);
    });
  }

  /** One JSON call; an answer outside 2xx becomes the matching DatastoreError. */
  async call<T>(method: Method, path: string, what: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const started = Date.now();
    const res = await this.open(method, path, body, contentType, what);
    const text = await new Promise<string>((resolve, reject) => {
      let data = '';
      const left = Math.max(this.timeoutMs - (Date.now() - started), 1);
      const timer = setTimeout(() => res.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), left);
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve(data);
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(socketToError(this.server, err, this.timeoutMs));
      });
    });
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw statusToError(this.server, status, isKubeStatus(parsed) ? parsed : { message: text.slice(0, 200) }, what);
    return parsed as T;
  }

  /**
   * Watches a collection from a resourceVersion (bookmarks on). The stream's ERROR events end it
   * with the matching error (410 Gone → Compacted); a dropped connection ends it Unavailable.
   */
  watch(path: string, resourceVersion: string, what: string, handlers: KubeWatchHandlers): { close(): void } {
    let closed = false;
    let res: IncomingMessage | undefined;
    const end = (err: DatastoreError): void => {
      if (closed) return;
      closed = true;
      res?.destroy();
      handlers.onEnd(err);
    };
    const sep = path.includes('?') ? '&' : '?';
    const query = `watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    this.open('GET', `${path}${sep}${query}`, undefined, '', what).then(
      (r) => {
        res = r;
        if (closed) {
          r.destroy();
          return;
        }
        if ((r.statusCode ?? 0) !== 200) {
          let data = '';
          r.setEncoding('utf8');
          r.on('data', (d: string) => (data += d));
          r.on('error', () => end(statusToError(this.server, r.statusCode ?? 0, { message: data.slice(0, 200) }, what)));
          r.on('end', () => {
            let st: KubeStatus | undefined;
            try {
              st = JSON.parse(data) as KubeStatus;
            } catch {
              st = { message: data.slice(0, 200) };
            }
            end(statusToError(this.server, r.statusCode ?? 0, st, what));
          });
          return;
        }
        r.socket?.setKeepAlive(true, 10_000);
        const lines = createInterface({ input: r });
        lines.on('line', (line) => {
          if (closed || !line.trim()) return;
          let ev: { type: string; object: unknown };
          try {
            ev = JSON.parse(line) as { type: string; object: unknown };
          } catch {
            end(new DatastoreError('Unavailable', `kubernetes at ${this.server}: unreadable watch event for ${what}`, what));
            return;
          }
          if (ev.type === 'ERROR') {
            const st = isKubeStatus(ev.object) ? ev.object : undefined;
            end(statusToError(this.server, st?.code ?? 500, st, what));
            return;
          }
          handlers.onEvent(ev as KubeWatchEvent);
        });
        const lost = (): void => end(new DatastoreError('Unavailable', `kubernetes at ${this.server}: watch of ${what} lost its connection`, what));
        // readline re-emits the stream's errors: both need a listener.
        r.on('error', lost);
        lines.on('error', lost);
        r.on('close', () => end(new DatastoreError('Unavailable', `kubernetes at ${this.server}: watch of ${what} ended (connection closed)`, what)));
      },
      (err: DatastoreError) => end(err),
    );
    return {
      close: () => {
        closed = true;
        res?.destroy();
      },
    };
  }

  close(): void {
    this.agent?.destroy();
  }
}
