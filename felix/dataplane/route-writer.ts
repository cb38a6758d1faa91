// Sends route requests to the kernel over one rtnetlink socket, faster than one request and one
// acknowledgement at a time (`ip -batch`): a batch of requests goes out in one datagram, which the
// kernel handles in order; only the batch's last request asks for an acknowledgement, since the
// kernel reports every failing request on its own. One batch is in flight at a time, so the
// replies of a batch that fails entirely still fit in the receive buffer.
import { getSystemErrorName } from 'node:util';
import { RawNetlinkSocket } from 'netlink';
import { NLM_F_ACK, NLM_F_REQUEST, parseReplies, routeMessageLength, writeRouteMessage, type NetlinkReply, type RouteRequest } from './netlink-codec.js';

const NETLINK_ROUTE = 0;
/** Requests per datagram: at most this many error replies queue up at once (each echoes its
 *  request, about 1 KiB of receive buffer with the kernel's overhead). */
const BATCH = 256;
/** The kernel answers a batch within its sendmsg call; this only guards against a lost reply. */
const REPLY_TIMEOUT_MS = 10_000;
const MAX_SEQ = 0x7fff_ffff;

export interface RouteOp {
  /** RTM_NEWROUTE or RTM_DELROUTE. */
  msgType: number;
  /** NLM_F_CREATE | NLM_F_REPLACE for adds; NLM_F_REQUEST is added here. */
  msgFlags: number;
  req: RouteRequest;
}

interface Pending {
  firstSeq: number;
  lastSeq: number;
  errnos: Map<number, number>;
  settle: (err?: Error) => void;
}

export class RouteWriter {
  private readonly sock: RawNetlinkSocket;
  private seq = 1;
  private pending?: Pending;
  /** Writes are serialised: replies are matched to the one batch in flight. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.sock = new RawNetlinkSocket(NETLINK_ROUTE, { messagePeeking: false, msgBufferSize: 8192, recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.sock.unref();
    this.sock.on('message', (msg: Buffer) => this.onReplies(parseReplies(msg)));
    this.sock.on('error', (e: Error) => this.pending?.settle(e));
  }

  /** Sends every op; returns per op undefined (done) or the reason it failed. */
  write(ops: readonly RouteOp[]): Promise<(string | undefined)[]> {
    const run = this.queue.then(() => this.writeAll(ops));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.sock.close();
  }

  private async writeAll(ops: readonly RouteOp[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = new Array<string | undefined>(ops.length).fill(undefined);
    if (!ops.length) return out;
    this.sock.ref();
    try {
      for (let i = 0; i < ops.length; i += BATCH) await this.batch(ops, i, Math.min(ops.length, i + BATCH), out);
    } finally {
      this.sock.unref();
    }
    return out;
  }

  private async batch(ops: readonly RouteOp[], from: number, to: number, out: (string | undefined)[]): Promise<void> {
    if (this.seq + (to - from) > MAX_SEQ) this.seq = 1;
    const firstSeq = this.seq;
    this.seq += to - from;
    let size = 0;
    for (let i = from; i < to; i++) size += routeMessageLength((ops[i] as RouteOp).req);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = from; i < to; i++) {
      const op = ops[i] as RouteOp;
      off = writeRouteMessage(buf, off, op.msgType, op.msgFlags | NLM_F_REQUEST | (i === to - 1 ? NLM_F_ACK : 0), firstSeq + i - from, op.req);
    }
    const errnos = new Map<number, number>();
    const failure = await new Promise<Error | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(new Error(`no reply from the kernel within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      this.pending = {
        firstSeq,
        lastSeq: firstSeq + (to - from) - 1,
        errnos,
        settle: (err) => {
          clearTimeout(timer);
          this.pending = undefined;
          resolve(err);
        },
      };
      this.sock.send(buf, {}, (err) => err && this.pending?.settle(err));
    });
    for (const [seq, errno] of errnos) out[from + seq - firstSeq] = errnoText(errno);
    if (failure) {
      // Replies were lost (receive buffer overrun, send failure): the outcome of the batch's
      // requests without a reported error is unknown; the next apply re-reads the table.
      for (let i = from; i < to; i++) out[i] ??= `outcome unknown: ${failure.message}`;
    }
  }

  private onReplies(replies: NetlinkReply[]): void {
    const p = this.pending;
    if (!p) return;
    for (const r of replies) {
      if (r.seq < p.firstSeq || r.seq > p.lastSeq) continue; // a stale reply of a failed batch
      if (r.errno !== 0) p.errnos.set(r.seq, r.errno);
      if (r.seq === p.lastSeq) p.settle();
    }
  }
}

function errnoText(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}
