// tortie-node's CNI socket: the plugins' calls (cni/agent-client.ts) served by this warm process,
// which already holds the datastore connection — a plugin then starts without loading the etcd
// client. Each request runs CniStore's method on the datastore, retried until the request's
// deadline and answered by then; a write that lands after the answer said "failed" is undone.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../datastore/store.js';
import type { IpamClient } from '../ipam/allocator.js';
import type { AgentOp, AgentReply, AgentRequest } from '../cni/agent-client.js';
import { BlockWriteQueue } from '../cni/block-queue.js';
import { DirectStore } from '../cni/direct-store.js';
import { CNI_CODES, CniError } from '../cni/errors.js';
import { toCniError } from '../cni/run.js';
import type { AssignRequest } from '../cni/store.js';

const OPS: ReadonlySet<AgentOp> = new Set(['pod', 'held', 'assign', 'release', 'putEndpoint', 'removeEndpoint', 'hasEndpoint', 'gc', 'status']);
/** Calls that write this node's blocks: they wait in one line (cni/block-queue.ts), ADDs grouped. */
const BLOCK_WRITERS: ReadonlySet<AgentOp> = new Set(['assign', 'release', 'gc']);
/** A request without a deadline of its own gets this long. */
const DEFAULT_BUDGET_MS = 30_000;
/** Longest line accepted: a netconf-sized request is a few kB. */
const MAX_LINE = 1 << 20;

export interface CniServerOptions {
  path: string;
  store: Store;
  ipam: IpamClient;
  log: Logger;
  /** Called with each request's op, outcome and seconds taken (metrics). */
  observe?: (op: AgentOp, ok: boolean, seconds: number) => void;
  /** Called for each ADD that got its addresses: assigned in a group with others, or alone (metrics). */
  observeAssign?: (how: 'grouped' | 'alone') => void;
}

type Outcome = { done: true; value: unknown } | { done: false };

export class CniServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly blockWrites: BlockWriteQueue;

  constructor(private readonly o: CniServerOptions) {
    this.blockWrites = new BlockWriteQueue(
      (deadline) => new DirectStore(o.store, o.ipam, deadline),
      // A call still queued at its deadline is answered "failed" (below) and then skipped.
      (op) => new CniError(CNI_CODES.tryAgainLater, `the datastore (${o.store.description}) did not answer in time: ${op} waited in line past its deadline behind an earlier block write`),
      (how) => o.observeAssign?.(how),
    );
  }

  async start(): Promise<void> {
    mkdirSync(dirname(this.o.path), { recursive: true });
    // A socket file left by a killed agent would make listen() fail with EADDRINUSE.
    rmSync(this.o.path, { force: true });
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.path, () => resolve());
    });
    // Root only: the socket assigns addresses and writes endpoints.
    chmodSync(this.o.path, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    rmSync(this.o.path, { force: true });
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.setEncoding('utf8');
    let buffer = '';
    let chain: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE) {
        sock.destroy();
        return;
      }
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        // In order, one at a time: a client's undo step must follow the call it undoes.
        chain = chain
          .then(async () => {
            const reply = await this.handle(line);
            if (!sock.destroyed) sock.write(`${JSON.stringify(reply)}\n`);
          })
          .catch((e: unknown) => this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, 'CNI socket: cannot answer'));
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  async handle(line: string): Promise<AgentReply> {
    let req: AgentRequest;
    try {
      req = JSON.parse(line) as AgentRequest;
    } catch {
      return { ok: false, code: CNI_CODES.decodeFailure, msg: 'tortie-node: request is not JSON' };
    }
    if (!OPS.has(req?.op) || !Array.isArray(req.args)) return { ok: false, code: CNI_CODES.decodeFailure, msg: `tortie-node: unknown request ${JSON.stringify(req?.op)}` };
    const deadline = typeof req.deadline === 'number' ? req.deadline : Date.now() + DEFAULT_BUDGET_MS;
    const store = new DirectStore(this.o.store, this.o.ipam, deadline);
    const started = process.hrtime.bigint();
    // async: a malformed argument that throws at once becomes this request's error, like any other.
    const call = async (): Promise<unknown> => (store[req.op] as (...a: unknown[]) => Promise<unknown>).apply(store, req.args);
    let work: Promise<unknown>;
    if (req.op === 'assign') work = this.blockWrites.assign(req.args[0] as AssignRequest, deadline);
    else if (BLOCK_WRITERS.has(req.op)) work = this.blockWrites.run(req.op, deadline, call);
    else work = call();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Outcome>((r) => {
      timer = setTimeout(() => r({ done: false }), Math.max(deadline - Date.now(), 0));
    });
    try {
      const out = await Promise.race([work.then((value): Outcome => ({ done: true, value })), late]);
      if (!out.done) {
        void work.then(() => this.undoLate(req)).catch(() => undefined);
        // "Try again later": a runtime retries the ADD (kubelet does; so does the lab).
        throw new CniError(CNI_CODES.tryAgainLater, `the datastore (${this.o.store.description}) did not answer ${req.op} in time`);
      }
      this.o.observe?.(req.op, true, Number(process.hrtime.bigint() - started) / 1e9);
      return { ok: true, value: out.value ?? null };
    } catch (e) {
      this.o.observe?.(req.op, false, Number(process.hrtime.bigint() - started) / 1e9);
      const err = toCniError(e);
      this.o.log.warn({ op: req.op, code: err.code, err: err.message }, 'CNI request failed');
      return { ok: false, code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The plugin was told this call failed and has undone its side: undo what the call did after all. */
  private async undoLate(req: AgentRequest): Promise<void> {
    const undo = new DirectStore(this.o.store, this.o.ipam, Date.now() + DEFAULT_BUDGET_MS);
    if (req.op === 'assign') await undo.release((req.args[0] as AssignRequest).handle);
    else if (req.op === 'putEndpoint') {
      const wep = req.args[0] as { metadata: { name: string; namespace: string }; spec: { containerID: string } };
      await undo.removeEndpoint(wep.metadata, wep.spec.containerID);
    } else return;
    this.o.log.info({ op: req.op }, 'undid a CNI call that completed after its deadline');
  }
}
