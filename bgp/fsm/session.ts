// Thin socket driver around the pure SessionFsm: turns actions into TCP connects, writes and
// timers, and feeds socket events back as FSM events. Received frames are decoded and processed in
// slices (yielding to the event loop every SLICE messages) so a large UPDATE burst never starves
// keepalives or hold timers (the failure of GoBGP issue #2854).
import { Socket, connect } from 'node:net';
import { secureSocket } from '../net/tcp-security.js';
import type { Logger } from 'pino';
import { MessageFramer, decodeMessage, describeNotification, encodeMessage } from '../codec/index.js';
import type { BgpMessage, CodecContext, NotificationMessage, UpdateMessage, RouteRefreshMessage } from '../codec/types.js';
import { SessionFsm } from './fsm.js';
import type { FsmAction, FsmConfig, FsmEvent, FsmState, NegotiatedSession, TimerName } from './types.js';

/** Longest we decode and process received messages before yielding to the event loop (ms). */
export const SLICE_MS = 10;

/**
 * Receive-side back-pressure: with more than this many bytes of received frames waiting to be
 * processed, the socket stops reading (TCP flow control then slows the peer) until the backlog
 * is under a quarter of it. A burst is never buffered whole, and processing keeps going, so the
 * peer's KEEPALIVEs are read in time.
 */
export const MAX_RECEIVE_BACKLOG = 1024 * 1024;

export interface SessionOptions {
  fsm: FsmConfig;
  peerAddress: string;
  /** Peer's TCP port, default 179. */
  peerPort?: number;
  /** Source address for our outgoing connection. */
  localAddress?: string;
  /** TCP-MD5 key (RFC 2385) for our outgoing connection; the speaker sets it on its listeners. */
  password?: string;
  /** GTSM (RFC 5082): the peer is at most this many hops away. */
  ttlSecurity?: number;
  logger: Logger;
}

export interface SessionEvents {
  established?(s: NegotiatedSession): void;
  /** `graceful`: graceful restart procedures apply to this ending (TCP failure; with the N bit, any NOTIFICATION but Hard Reset). */
  down?(reason: string, n: { sent?: NotificationMessage; received?: NotificationMessage; graceful: boolean }): void;
  update?(u: UpdateMessage, info: { treatAsWithdraw?: boolean }): void;
  routeRefresh?(r: RouteRefreshMessage): void;
  state?(from: FsmState, to: FsmState): void;
}

interface ConnIo {
  socket: Socket;
  framer: MessageFramer;
  /** Received frames; `head` is the next to process (no Array.shift: O(n) on large arrays). */
  queue: Buffer[];
  head: number;
  /** Bytes in queue[head..]. */
  backlog: number;
  paused: boolean;
  draining: boolean;
  ctx: CodecContext;
}

const PRE_OPEN_CTX: CodecContext = { fourOctetAs: false };
const EMPTY = Buffer.alloc(0);

function clearQueue(io: ConnIo): void {
  io.queue = [];
  io.head = 0;
  io.backlog = 0;
}

export class BgpSession {
  readonly fsm: SessionFsm;
  private readonly conns = new Map<number, ConnIo>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private established: { conn: number; session: NegotiatedSession } | undefined;
  /** When the FSM last changed state (ms since epoch): the SINCE column of `node status`. */
  since = Date.now();
  lastNotification: string | undefined;
  listeners: SessionEvents = {};
  /** Messages sent and received, by BGP type code (1 OPEN … 5 ROUTE-REFRESH), over the session's life (GoBGP's neighbor counters). */
  readonly counters = { sent: [0, 0, 0, 0, 0, 0], received: [0, 0, 0, 0, 0, 0] };
  /** Times the session left Established (GoBGP's flops). */
  flops = 0;
  private closed = false;

  constructor(readonly opts: SessionOptions) {
    this.fsm = new SessionFsm(opts.fsm, { now: () => Date.now(), random: Math.random });
  }

  get state(): FsmState {
    return this.fsm.state;
  }

  get negotiated(): NegotiatedSession | undefined {
    return this.established?.session;
  }

  start(): void {
    this.closed = false;
    this.feed({ type: 'Start' });
  }

  /** Administrative stop: Cease (subcode 2 by default, 3 = peer de-configured) and no restart. */
  stop(subcode = 2, reason = 'administratively stopped'): void {
    this.feed({ type: 'Stop', subcode, reason });
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.closed = true;
  }

  /** Hands over a connection the speaker accepted from this peer's address. */
  accept(socket: Socket): void {
    const id = this.fsm.newConnId();
    this.attach(id, socket);
    this.feed({ type: 'TcpConnected', conn: id, dir: 'in' });
  }

  /** Sends a message on the established session; false when there is none. */
  send(msg: BgpMessage): boolean {
    const e = this.established;
    const io = e && this.conns.get(e.conn);
    if (!io) return false;
    this.write(io, encodeMessage(msg, io.ctx));
    return true;
  }

  /** Writes pre-encoded messages (packUpdates output) on the established session. */
  sendRaw(frames: Buffer[]): boolean {
    const e = this.established;
    const io = e && this.conns.get(e.conn);
    if (!io) return false;
    for (const f of frames) this.write(io, f);
    return true;
  }

  /** Writes whole BGP messages, counting each by type (a buffer may hold several). */
  private write(io: ConnIo, buf: Buffer): void {
    for (let at = 0; at + 19 <= buf.length; at += buf.readUInt16BE(at + 16) || buf.length) this.counters.sent[buf[at + 18]] = (this.counters.sent[buf[at + 18]] ?? 0) + 1;
    io.socket.write(buf);
  }

  /**
   * Bytes written on the established connection that the kernel has not taken yet (Node's
   * user-space queue): the speaker's per-socket back-pressure signal. 0 without a session.
   */
  get queuedBytes(): number {
    const e = this.established;
    return (e && this.conns.get(e.conn)?.socket.writableLength) ?? 0;
  }

  /**
   * Calls `fn` once when the established connection's queue has drained, or at once if it is
   * empty. False (and no call) when there is no established connection; a connection that
   * closes first never calls back (the session's down event covers it).
   */
  onDrain(fn: () => void): boolean {
    const e = this.established;
    const io = e && this.conns.get(e.conn);
    if (!io) return false;
    if (!io.socket.writableLength) queueMicrotask(fn);
    else io.socket.once('drain', fn);
    return true;
  }

  /** Our address on the established connection (next-hop-self). */
  get localAddress(): string | undefined {
    const e = this.established;
    const a = e && this.conns.get(e.conn)?.socket.localAddress;
    return a?.startsWith('::ffff:') ? a.slice(7) : a;
  }

  /** The codec context of the established session (for packUpdates). */
  get codecContext(): CodecContext | undefined {
    const e = this.established;
    return e && this.conns.get(e.conn)?.ctx;
  }

  private feed(ev: FsmEvent): void {
    let acts: FsmAction[];
    try {
      acts = this.fsm.handle(ev);
    } catch (err) {
      this.opts.logger.error({ err, event: ev.type }, 'BGP FSM failed to handle event');
      return;
    }
    for (const a of acts) this.act(a);
  }

  private act(a: FsmAction): void {
    const log = this.opts.logger;
    switch (a.type) {
      case 'connect':
        this.connectOut(a.conn);
        return;
      case 'send': {
        const io = this.conns.get(a.conn);
        if (!io) return;
        if (a.message.type === 'NOTIFICATION')
          log.warn({ code: a.message.code, subcode: a.message.subcode }, `sending NOTIFICATION: ${describeNotification(a.message.code, a.message.subcode, a.message.data)}`);
        try {
          this.write(io, encodeMessage(a.message, io.ctx));
        } catch (err) {
          log.error({ err }, 'cannot encode message');
        }
        return;
      }
      case 'close': {
        const io = this.conns.get(a.conn);
        this.conns.delete(a.conn);
        if (this.established?.conn === a.conn) this.established = undefined;
        if (io) {
          clearQueue(io);
          // end() lets a just-written NOTIFICATION reach the peer; destroy soon after regardless.
          io.socket.end();
          setTimeout(() => io.socket.destroy(), 1000).unref();
        }
        return;
      }
      case 'startTimer': {
        const key = `${a.timer}:${a.conn ?? ''}`;
        const old = this.timers.get(key);
        if (old) clearTimeout(old);
        const t = setTimeout(() => {
          this.timers.delete(key);
          this.feed({ type: 'TimerExpired', timer: a.timer as TimerName, conn: a.conn });
        }, Math.max(0, a.seconds * 1000));
        t.unref();
        this.timers.set(key, t);
        return;
      }
      case 'stopTimer': {
        const key = `${a.timer}:${a.conn ?? ''}`;
        const t = this.timers.get(key);
        if (t) clearTimeout(t);
        this.timers.delete(key);
        return;
      }
      case 'established': {
        this.established = { conn: a.conn, session: a.session };
        const io = this.conns.get(a.conn);
        if (io) io.ctx = a.session.codec;
        log.info({ holdTime: a.session.holdTime, families: a.session.families }, 'BGP session established');
        this.listeners.established?.(a.session);
        return;
      }
      case 'deliver':
        if (a.message.type === 'UPDATE') this.listeners.update?.(a.message, {});
        else if (a.message.type === 'ROUTE_REFRESH') this.listeners.routeRefresh?.(a.message);
        return;
      case 'down': {
        this.established = undefined;
        if (a.received) {
          this.lastNotification = `received ${describeNotification(a.received.code, a.received.subcode, a.received.data)}`;
          log.warn({ code: a.received.code, subcode: a.received.subcode }, `NOTIFICATION from peer: ${describeNotification(a.received.code, a.received.subcode, a.received.data)}`);
        } else if (a.sent) this.lastNotification = `sent ${describeNotification(a.sent.code, a.sent.subcode, a.sent.data)}`;
        log.info({ reason: a.reason }, 'BGP session down');
        this.listeners.down?.(a.reason, { sent: a.sent, received: a.received, graceful: a.graceful });
        return;
      }
      case 'state':
        this.since = Date.now();
        if (a.from === 'Established') this.flops++;
        log.debug({ from: a.from, to: a.to }, 'BGP FSM state');
        this.listeners.state?.(a.from, a.to);
        return;
    }
  }

  private connectOut(id: number): void {
    const target = { host: this.opts.peerAddress, port: this.opts.peerPort ?? 179, localAddress: this.opts.localAddress };
    const { password, ttlSecurity } = this.opts;
    let socket: Socket;
    try {
      // MD5 key and TTL options must be on the socket before its SYN.
      socket = password !== undefined || ttlSecurity ? secureSocket(this.opts.peerAddress, { password, ttlSecurity }).connect(target) : connect(target);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      setImmediate(() => !this.closed && this.feed({ type: 'TcpFailed', conn: id, error }));
      return;
    }
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      this.attach(id, socket);
      this.feed({ type: 'TcpConnected', conn: id, dir: 'out' });
    });
    socket.once('error', (err) => {
      if (!connected) {
        socket.destroy();
        if (!this.closed) this.feed({ type: 'TcpFailed', conn: id, error: err.message });
      }
    });
  }

  private attach(id: number, socket: Socket): void {
    const io: ConnIo = { socket, framer: new MessageFramer(), queue: [], head: 0, backlog: 0, paused: false, draining: false, ctx: PRE_OPEN_CTX };
    this.conns.set(id, io);
    socket.on('data', (chunk: Buffer) => {
      if (this.conns.get(id) !== io) return;
      this.feed({ type: 'Traffic', conn: id });
      let frames: Buffer[];
      try {
        frames = io.framer.push(chunk);
      } catch (err) {
        this.opts.logger.error({ err }, 'framer failed');
        frames = [];
      }
      for (const f of frames) {
        io.queue.push(f);
        io.backlog += f.length;
      }
      if (io.framer.error) {
        clearQueue(io);
        this.feed({ type: 'ProtocolError', conn: id, notification: io.framer.error, reason: 'bad message header' });
        return;
      }
      if (io.backlog > MAX_RECEIVE_BACKLOG && !io.paused) {
        io.paused = true;
        socket.pause();
      }
      this.drain(id, io);
    });
    const gone = (err?: Error): void => {
      if (this.conns.get(id) !== io) return;
      this.feed({ type: 'TcpClosed', conn: id, error: err?.message });
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
  }

  /** Decodes and handles queued frames for at most SLICE_MS per turn of the event loop. */
  private drain(id: number, io: ConnIo): void {
    if (io.draining) return;
    io.draining = true;
    const step = (): void => {
      // A time budget, not a message count: one UPDATE may carry a thousand prefixes.
      const deadline = performance.now() + SLICE_MS;
      let n = 0;
      while (io.head < io.queue.length && (n++ === 0 || performance.now() < deadline)) {
        if (this.conns.get(id) !== io) {
          clearQueue(io);
          break;
        }
        const frame = io.queue[io.head];
        io.queue[io.head++] = EMPTY;
        io.backlog -= frame.length;
        this.handleFrame(id, io, frame);
      }
      // A processed message is a received one (RFC 4271 §4.4): while the socket is paused this is
      // what keeps the hold timer from expiring behind a backlog the peer sent long ago.
      if (io.paused && this.conns.get(id) === io) this.feed({ type: 'Traffic', conn: id });
      if (io.head >= io.queue.length) clearQueue(io);
      else if (io.head > 1024 && io.head * 2 > io.queue.length) {
        io.queue = io.queue.slice(io.head);
        io.head = 0;
      }
      if (io.paused && io.backlog < MAX_RECEIVE_BACKLOG / 4 && this.conns.get(id) === io) {
        io.paused = false;
        io.socket.resume();
      }
      if (io.head < io.queue.length && this.conns.get(id) === io) setImmediate(step);
      else io.draining = false;
    };
    step();
  }

  private handleFrame(id: number, io: ConnIo, frame: Buffer): void {
    if (frame.length >= 19) this.counters.received[frame[18]] = (this.counters.received[frame[18]] ?? 0) + 1;
    let out;
    try {
      out = decodeMessage(frame, io.ctx);
    } catch (err) {
      this.opts.logger.error({ err }, 'decoder threw');
      out = { ok: false as const, notification: { type: 'NOTIFICATION' as const, code: 3, subcode: 0, data: Buffer.alloc(0) }, reason: String(err) };
    }
    if (!out.ok) {
      clearQueue(io);
      this.feed({ type: 'ProtocolError', conn: id, notification: out.notification, reason: out.reason });
      return;
    }
    if (out.warnings?.length) this.opts.logger.warn({ warnings: out.warnings, discarded: out.discarded }, 'UPDATE errors tolerated (RFC 7606)');
    // On treat-as-withdraw the decoder already moved announced prefixes to the withdrawn lists.
    this.feed({ type: 'Message', conn: id, message: out.message });
  }
}
