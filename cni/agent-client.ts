// CniStore over the local tortie-node's CNI socket: one JSON line per request, one per reply, on a
// single connection used in turn. Only node:net: the plugin's hot path loads no datastore client.
import { connect, type Socket } from 'node:net';
import { CniError, CNI_CODES } from './errors.js';
import type { PodInfo } from './k8s.js';
import type { AssignRequest, CniStore, EndpointRef, GcReport, GcRequest } from './store.js';

export const DEFAULT_AGENT_SOCKET = '/var/run/tortie/cni.sock';

/** The calls the agent serves: CniStore's methods by name, with their arguments in order. */
export type AgentOp = 'pod' | 'held' | 'assign' | 'release' | 'putEndpoint' | 'removeEndpoint' | 'hasEndpoint' | 'gc' | 'status';

export interface AgentRequest {
  op: AgentOp;
  args: unknown[];
  /** Epoch ms by which the agent must answer (it retries datastore calls until then). */
  deadline: number;
}

export type AgentReply = { ok: true; value: unknown } | { ok: false; code: number; msg: string; details?: string };

/** Connecting found no agent (no socket, or nobody listening on it): the caller may take another path. */
export class AgentAbsent extends Error {}

/** Time after the deadline the client still waits: the agent answers by the deadline, the reply travels. */
const REPLY_SLACK_MS = 1000;
/** Budget of a call made after the command's deadline (undoing a failed ADD). */
const UNDO_BUDGET_MS = 5000;

export class AgentStore implements CniStore {
  readonly description: string;
  private buffer = '';
  private waiting?: { resolve: (line: string) => void; reject: (e: Error) => void };
  private queue: Promise<unknown> = Promise.resolve();
  private closedBecause?: string;

  private constructor(
    private readonly sock: Socket,
    readonly path: string,
    private readonly deadline: number,
  ) {
    this.description = `tortie-node at ${path}`;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buffer += chunk;
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) return;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(line);
    });
    const gone = (why: string): void => {
      this.closedBecause ??= why;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new CniError(CNI_CODES.tryAgainLater, `${this.description} ${why}`));
    };
    sock.on('error', (e) => gone(`failed: ${e.message}`));
    sock.on('close', () => gone('closed the connection (restarting?)'));
  }

  /** Connects, or throws AgentAbsent when no agent listens at path. */
  static open(path: string, deadline: number): Promise<AgentStore> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new CniError(CNI_CODES.tryAgainLater, `tortie-node at ${path} did not accept the connection in time`));
      }, Math.max(deadline - Date.now(), 0));
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new AgentStore(sock, path, deadline));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new AgentAbsent(`no tortie-node listens at ${path} (${e.code})`));
        else reject(new CniError(CNI_CODES.ioFailure, `cannot connect to tortie-node at ${path}: ${e.message}`));
      });
    });
  }

  private call<T>(op: AgentOp, args: unknown[]): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closedBecause) throw new CniError(CNI_CODES.tryAgainLater, `${this.description} ${this.closedBecause}`);
      // After the deadline only undo steps run; each gets a short budget of its own.
      const deadline = Date.now() < this.deadline ? this.deadline : Date.now() + UNDO_BUDGET_MS;
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting = undefined;
          reject(new CniError(CNI_CODES.tryAgainLater, `${this.description} gave no answer to ${op} in time`));
        }, deadline - Date.now() + REPLY_SLACK_MS);
        this.waiting = {
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        this.sock.write(`${JSON.stringify({ op, args, deadline } satisfies AgentRequest)}\n`);
      });
      let reply: AgentReply;
      try {
        reply = JSON.parse(line) as AgentReply;
      } catch {
        throw new CniError(CNI_CODES.ioFailure, `${this.description} sent a malformed reply to ${op}`);
      }
      if (!reply.ok) throw new CniError(reply.code, reply.msg, reply.details ?? '');
      return reply.value as T;
    };
    // One request in flight per connection: the agent answers in order.
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  pod(kubeconfig: string, namespace: string, name: string): Promise<PodInfo> {
    return this.call('pod', [kubeconfig, namespace, name]);
  }
  held(handle: string): Promise<string[]> {
    return this.call('held', [handle]);
  }
  assign(req: AssignRequest): Promise<string[]> {
    return this.call('assign', [req]);
  }
  release(handle: string): Promise<void> {
    return this.call('release', [handle]);
  }
  putEndpoint(wep: Record<string, unknown>): Promise<void> {
    return this.call('putEndpoint', [wep]);
  }
  removeEndpoint(ref: EndpointRef, containerId: string): Promise<string[]> {
    return this.call('removeEndpoint', [ref, containerId]);
  }
  hasEndpoint(ref: EndpointRef): Promise<boolean> {
    return this.call('hasEndpoint', [ref]);
  }
  gc(req: GcRequest): Promise<GcReport> {
    return this.call('gc', [req]);
  }
  status(): Promise<void> {
    return this.call('status', []);
  }
  async close(): Promise<void> {
    this.sock.end();
  }
}
