// Our rtnetlink socket for the route table: dumps it and writes to it with the codec's bytes.
// Writes go faster than one request and one acknowledgement at a time (`ip -batch`): a batch of
// requests goes out in one datagram, which the kernel handles in order; only the batch's last
// request asks for an acknowledgement, since the kernel reports every failing request on its own.
// One batch is in flight at a time, so the replies of a batch that fails entirely still fit in
// the receive buffer. One operation at a time: replies are matched to the one in flight.
import { getSystemErrorName } from 'node:util';
import { RawNetlinkSocket } from 'netlink';
import { NLM_F_ACK, NLM_F_REQUEST, parseReplies, parseRouteDump, routeDumpRequest, routeMessageLength, writeRouteMessage, type KernelRoute, type RouteRequest } from './netlink-codec.js';

const NETLINK_ROUTE = 0;
/** Requests per datagram: at most this many error replies queue up at once (each echoes its
 *  request, about 1 KiB of receive buffer with the kernel's overhead). */
const BATCH = 256;
/** The kernel answers within its sendmsg call or streams a dump; this only guards a lost reply. */
const REPLY_TIMEOUT_MS = 10_000;
const MAX_SEQ = 0x7fff_ffff;
/** The kernel sends dump datagrams of up to 32 KiB to a reader with room for them. */
const RECV_BUFFER = 32 * 1024;

export interface RouteOp {
  /** RTM_NEWROUTE or RTM_DELROUTE. */
  msgType: number;
  /** NLM_F_CREATE | NLM_F_REPLACE for adds; NLM_F_REQUEST is added here. */
  msgFlags: number;
  req: RouteRequest;
}

/** The operation in flight: what to do with each datagram received, and with a socket error. */
interface InFlight {
  datagram(buf: Buffer): void;
  fail(err: Error): void;
}

export class RouteSocket {
  private readonly sock: RawNetlinkSocket;
  private seq = 1;
  private inFlight?: InFlight;
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.sock = new RawNetlinkSocket(NETLINK_ROUTE, { messagePeeking: false, msgBufferSize: RECV_BUFFER, recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.sock.unref();
    this.sock.on('message', (msg: Buffer) => this.inFlight?.datagram(msg));
    this.sock.on('error', (e: Error) => this.inFlight?.fail(e));
  }

  /** Every route of both families, every table; devices named through `ifNames`. */
  dump(ifNames: ReadonlyMap<number, string>): Promise<KernelRoute[]> {
    return this.serial(async () => {
      const seq = this.takeSeq(1);
      const routes: KernelRoute[] = [];
      await this.exchange(routeDumpRequest(seq), (buf, settle) => {
        const part = parseRouteDump(buf, seq, ifNames);
        for (const r of part.routes) routes.push(r);
        if (part.errno) settle(new Error(`route dump: ${errnoText(part.errno)}`));
        else if (part.done) settle();
      });
      return routes;
    });
  }

  /** Sends every op; returns per op undefined (done) or the reason it failed. */
  write(ops: readonly RouteOp[]): Promise<(string | undefined)[]> {
    return this.serial(async () => {
      const out: (string | undefined)[] = new Array<string | undefined>(ops.length).fill(undefined);
      for (let i = 0; i < ops.length; i += BATCH) await this.batch(ops, i, Math.min(ops.length, i + BATCH), out);
      return out;
    });
  }

  close(): void {
    this.sock.close();
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.sock.ref();
      try {
        return await op();
      } finally {
        this.sock.unref();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private takeSeq(n: number): number {
    if (this.seq + n > MAX_SEQ) this.seq = 1;
    const first = this.seq;
    this.seq += n;
    return first;
  }

  /** Sends one datagram and feeds what comes back to `onDatagram` until it settles. */
  private exchange(request: Buffer, onDatagram: (buf: Buffer, settle: (err?: Error) => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        this.inFlight = undefined;
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`no reply from the kernel within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      this.inFlight = { datagram: (buf) => onDatagram(buf, settle), fail: settle };
      this.sock.send(request, {}, (err) => err && settle(err));
    });
  }

  private async batch(ops: readonly RouteOp[], from: number, to: number, out: (string | undefined)[]): Promise<void> {
    const firstSeq = this.takeSeq(to - from);
    const lastSeq = firstSeq + (to - from) - 1;
    let size = 0;
    for (let i = from; i < to; i++) size += routeMessageLength((ops[i] as RouteOp).req);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = from; i < to; i++) {
      const op = ops[i] as RouteOp;
      off = writeRouteMessage(buf, off, op.msgType, op.msgFlags | NLM_F_REQUEST | (i === to - 1 ? NLM_F_ACK : 0), firstSeq + i - from, op.req);
    }
    try {
      await this.exchange(buf, (datagram, settle) => {
        for (const r of parseReplies(datagram)) {
          if (r.seq < firstSeq || r.seq > lastSeq) continue; // a stale reply of a failed batch
          if (r.errno !== 0) out[from + r.seq - firstSeq] = errnoText(r.errno);
          if (r.seq === lastSeq) settle();
        }
      });
    } catch (e) {
      // Replies were lost (receive buffer overrun, send failure): the outcome of the batch's
      // requests without a reported error is unknown; the next apply re-reads the table.
      for (let i = from; i < to; i++) out[i] ??= `outcome unknown: ${e instanceof Error ? e.message : String(e)}`;
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
