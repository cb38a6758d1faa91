// RFC 4271 §8 session FSM as a pure state machine: handle(event) → actions.
// One FSM per peer; it tracks every TCP connection to that peer (ours and the peer's) so that
// connection collisions (§6.8) are resolved inside the machine and exactly one session survives.
import type { BgpMessage, NotificationMessage, OpenMessage } from '../codec/types.js';
import { buildOpen, checkOpen, compareRouterIds, negotiate } from './open.js';
import type { Direction, FsmAction, FsmConfig, FsmDeps, FsmEvent, FsmState, NegotiatedSession } from './types.js';

/** RFC 4271 §8 "large value" for the hold timer while waiting for the peer's OPEN. */
export const OPEN_HOLD_TIME = 240;
export const DEFAULT_CONNECT_RETRY = 120;
export const DEFAULT_CONNECT_RETRY_MAX = 600;
export const DEFAULT_ERROR_WAIT: [number, number] = [5, 300];
export const DEFAULT_ERROR_FORGET = 300;

type ConnState = 'Connecting' | 'OpenSent' | 'OpenConfirm' | 'Established';

interface Conn {
  id: number;
  dir: Direction;
  state: ConnState;
  session?: NegotiatedSession;
}

function notif(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): NotificationMessage {
  return { type: 'NOTIFICATION', code, subcode, data };
}

/** RFC 8538 §5: with the N bit exchanged these Cease subcodes go out as Hard Reset (6/9). */
const HARD_RESET_CEASES = new Set([1, 2, 3, 4]);

/** Whether graceful restart procedures apply when a session ends this way (RFC 4724, RFC 8538 §4). */
export function gracefulEnd(session: NegotiatedSession | undefined, n: { sent?: NotificationMessage; received?: NotificationMessage }): boolean {
  const m = n.sent ?? n.received;
  if (!m) return true;
  return !!session?.gracefulNotification && !(m.code === 6 && m.subcode === 9);
}

/** RFC 4271 §10: timers are jittered by a random factor in [0.75, 1]. */
export function jitter(seconds: number, random: () => number): number {
  return seconds * (0.75 + 0.25 * random());
}

/** ConnectRetry after `failures` consecutive failed attempts: doubles each time, capped. */
export function connectRetryInterval(base: number, max: number, failures: number): number {
  return Math.min(base * 2 ** Math.min(failures, 30), Math.max(base, max));
}

/** Wait before restarting after the n-th error in a sequence (n ≥ 1): doubles each time, capped. */
export function errorWaitInterval(min: number, max: number, n: number): number {
  return Math.min(min * 2 ** Math.min(Math.max(n - 1, 0), 30), Math.max(min, max));
}

export class SessionFsm {
  private readonly conns = new Map<number, Conn>();
  private nextConn = 1;
  private started = false;
  private idleHolding = false;
  private connectFailures = 0;
  private errorCount = 0;
  private lastErrorAt = -Infinity;
  private current: FsmState = 'Idle';
  private localOpen: OpenMessage;
  private cfg: FsmConfig;
  /** Last reason the session failed or was refused, for status output. */
  lastError: string | undefined;

  constructor(
    config: FsmConfig,
    private readonly deps: FsmDeps,
  ) {
    this.cfg = config;
    this.localOpen = buildOpen(config);
  }

  get config(): FsmConfig {
    return this.cfg;
  }

  /**
   * An id for a connection the speaker accepted (its TcpConnected event says 'in'). Ours and the
   * ones we dial share this counter: an inbound id the shell counted on its own could equal an
   * outbound one (each inbound id moves the outbound counter past it), and two sockets under one
   * id leave one of them open and unowned.
   */
  newConnId(): number {
    return this.nextConn++;
  }

  /**
   * Graceful restart capability for OPENs sent from now on. A restarting speaker sets R and F only
   * until its restart is over (RFC 4724 §4.1): a later session must not claim a restart again. An
   * established session keeps what it negotiated.
   */
  setGracefulRestart(gr: FsmConfig['gracefulRestart']): void {
    this.cfg = { ...this.cfg, gracefulRestart: gr };
    this.localOpen = buildOpen(this.cfg);
  }

  get state(): FsmState {
    return this.current;
  }

  /** The established session, if any. */
  get session(): NegotiatedSession | undefined {
    for (const c of this.conns.values()) if (c.state === 'Established') return c.session;
    return undefined;
  }

  /** Connection ids currently open (for tests and the driver's sanity checks). */
  connections(): Array<{ id: number; dir: Direction; state: string }> {
    return [...this.conns.values()].map((c) => ({ id: c.id, dir: c.dir, state: c.state }));
  }

  handle(ev: FsmEvent): FsmAction[] {
    const out: FsmAction[] = [];
    this.dispatch(ev, out);
    const next = this.derive();
    if (next !== this.current) {
      out.push({ type: 'state', from: this.current, to: next, reason: this.lastError });
      this.current = next;
    }
    return out;
  }

  private derive(): FsmState {
    const states = [...this.conns.values()].map((c) => c.state);
    if (states.includes('Established')) return 'Established';
    if (states.includes('OpenConfirm')) return 'OpenConfirm';
    if (states.includes('OpenSent')) return 'OpenSent';
    if (!this.started || this.idleHolding) return 'Idle';
    if (states.includes('Connecting')) return 'Connect';
    return 'Active';
  }

  private get retryBase(): number {
    return this.config.connectRetryTime ?? DEFAULT_CONNECT_RETRY;
  }

  private dispatch(ev: FsmEvent, out: FsmAction[]): void {
    switch (ev.type) {
      case 'Start':
        if (this.started) return;
        this.started = true;
        this.idleHolding = false;
        this.beginConnecting(out);
        return;
      case 'Stop':
        this.stop(ev.subcode ?? 2, ev.reason ?? 'administratively stopped', out);
        return;
      case 'TcpConnected':
        this.onConnected(ev.conn, ev.dir, out);
        return;
      case 'TcpFailed': {
        const c = this.conns.get(ev.conn);
        if (!c) return;
        this.conns.delete(ev.conn);
        this.connectFailures++;
        this.lastError = `connect failed: ${ev.error}`;
        // Back off: the next attempt waits longer after each consecutive failure.
        if (this.started && !this.idleHolding && !this.config.passive && this.conns.size === 0) {
          out.push({ type: 'stopTimer', timer: 'connectRetry' });
          out.push({ type: 'startTimer', timer: 'connectRetry', seconds: this.retrySeconds() });
        }
        return;
      }
      case 'TcpClosed': {
        const c = this.conns.get(ev.conn);
        if (!c) return;
        if (c.state === 'Connecting') {
          this.dispatch({ type: 'TcpFailed', conn: ev.conn, error: ev.error ?? 'closed' }, out);
          return;
        }
        this.drop(c, `connection closed by peer${ev.error ? `: ${ev.error}` : ''}`, out, {});
        return;
      }
      case 'TimerExpired':
        this.onTimer(ev.timer, ev.conn, out);
        return;
      case 'Traffic': {
        const c = this.conns.get(ev.conn);
        if (c?.session && c.session.holdTime > 0 && (c.state === 'OpenConfirm' || c.state === 'Established'))
          out.push({ type: 'startTimer', timer: 'hold', conn: c.id, seconds: c.session.holdTime });
        return;
      }
      case 'ProtocolError': {
        const c = this.conns.get(ev.conn);
        if (!c) return;
        out.push({ type: 'send', conn: c.id, message: ev.notification });
        this.drop(c, ev.reason, out, { sent: ev.notification });
        return;
      }
      case 'Message':
        this.onMessage(ev.conn, ev.message, out);
        return;
    }
  }

  private retrySeconds(): number {
    const base = connectRetryInterval(this.retryBase, this.config.connectRetryMax ?? DEFAULT_CONNECT_RETRY_MAX, this.connectFailures);
    return jitter(base, this.deps.random);
  }

  private beginConnecting(out: FsmAction[]): void {
    if (this.config.passive) return; // Active: wait for the peer's connection.
    const id = this.nextConn++;
    this.conns.set(id, { id, dir: 'out', state: 'Connecting' });
    out.push({ type: 'connect', conn: id });
    out.push({ type: 'startTimer', timer: 'connectRetry', seconds: this.retrySeconds() });
  }

  private onConnected(id: number, dir: Direction, out: FsmAction[]): void {
    if (dir === 'out') {
      const c = this.conns.get(id);
      if (!c || c.state !== 'Connecting') {
        out.push({ type: 'close', conn: id });
        return;
      }
      c.state = 'OpenSent';
    } else {
      if (!this.started) {
        out.push({ type: 'close', conn: id }); // Idle refuses connections (§8.2.2).
        return;
      }
      if ([...this.conns.values()].some((c) => c.state === 'Established')) {
        // A collision with an Established session closes the newcomer (§6.8).
        out.push({ type: 'send', conn: id, message: notif(6, 7) }, { type: 'close', conn: id });
        return;
      }
      for (const old of [...this.conns.values()]) {
        if (old.dir === 'in') this.closeConn(old, notif(6, 7), out); // the peer gave up on its older connection
      }
      this.conns.set(id, { id, dir: 'in', state: 'OpenSent' });
      if (this.nextConn <= id) this.nextConn = id + 1;
    }
    out.push({ type: 'send', conn: id, message: this.localOpen });
    out.push({ type: 'startTimer', timer: 'hold', conn: id, seconds: OPEN_HOLD_TIME });
  }

  private onTimer(timer: string, connId: number | undefined, out: FsmAction[]): void {
    if (timer === 'connectRetry') {
      if (!this.started || this.idleHolding) return;
      const busy = [...this.conns.values()].some((c) => c.state !== 'Connecting');
      for (const c of [...this.conns.values()]) {
        if (c.state === 'Connecting') {
          this.conns.delete(c.id);
          out.push({ type: 'close', conn: c.id });
          this.connectFailures++;
          this.lastError = 'connect timed out';
        }
      }
      if (!busy) this.beginConnecting(out);
      return;
    }
    if (timer === 'idleHold') {
      this.idleHolding = false;
      if (this.started && this.conns.size === 0) this.beginConnecting(out);
      return;
    }
    const c = connId === undefined ? undefined : this.conns.get(connId);
    if (!c) return;
    if (timer === 'hold') {
      const n = notif(4, 0);
      out.push({ type: 'send', conn: c.id, message: n });
      this.drop(c, 'hold timer expired', out, { sent: n });
    } else if (timer === 'keepalive' && c.session && (c.state === 'OpenConfirm' || c.state === 'Established')) {
      out.push({ type: 'send', conn: c.id, message: { type: 'KEEPALIVE' } });
      out.push({ type: 'startTimer', timer: 'keepalive', conn: c.id, seconds: jitter(c.session.keepaliveTime, this.deps.random) });
    }
  }

  private onMessage(id: number, msg: BgpMessage, out: FsmAction[]): void {
    const c = this.conns.get(id);
    if (!c || c.state === 'Connecting') return;
    const unexpected = (): void => {
      const sub = c.state === 'OpenSent' ? 1 : c.state === 'OpenConfirm' ? 2 : 3;
      const n = notif(5, sub);
      out.push({ type: 'send', conn: c.id, message: n });
      this.drop(c, `unexpected ${msg.type} in ${c.state}`, out, { sent: n });
    };
    switch (msg.type) {
      case 'NOTIFICATION':
        this.drop(c, `NOTIFICATION ${msg.code}/${msg.subcode} received`, out, { received: msg });
        return;
      case 'OPEN': {
        if (c.state !== 'OpenSent') return unexpected();
        const bad = checkOpen(this.config, msg);
        if (bad) {
          out.push({ type: 'send', conn: c.id, message: bad.notification });
          this.drop(c, bad.reason, out, { sent: bad.notification });
          return;
        }
        if (!this.resolveCollision(c, msg.bgpId, out)) return;
        const session = negotiate(this.config, this.localOpen, msg);
        c.session = session;
        c.state = 'OpenConfirm';
        out.push({ type: 'send', conn: c.id, message: { type: 'KEEPALIVE' } });
        if (session.holdTime > 0) {
          out.push({ type: 'startTimer', timer: 'hold', conn: c.id, seconds: session.holdTime });
          out.push({ type: 'startTimer', timer: 'keepalive', conn: c.id, seconds: jitter(session.keepaliveTime, this.deps.random) });
        } else {
          out.push({ type: 'stopTimer', timer: 'hold', conn: c.id });
        }
        return;
      }
      case 'KEEPALIVE':
        if (c.state === 'OpenSent') return unexpected();
        if (c.state === 'OpenConfirm') this.establish(c, out);
        return;
      case 'UPDATE':
      case 'ROUTE_REFRESH':
        if (c.state !== 'Established') return unexpected();
        out.push({ type: 'deliver', conn: c.id, message: msg });
        return;
    }
  }

  /** §6.8: returns false if `c` itself lost and was closed. */
  private resolveCollision(c: Conn, remoteId: string, out: FsmAction[]): boolean {
    for (const o of [...this.conns.values()]) {
      if (o === c) continue;
      if (o.state === 'Established') {
        this.closeConn(c, notif(6, 7), out);
        return false;
      }
      if (o.state !== 'OpenConfirm') continue;
      // Local id lower → close the connection we initiated; otherwise close the peer's.
      const closeDir: Direction = compareRouterIds(this.config.routerId, remoteId) < 0 ? 'out' : 'in';
      const loser = c.dir === closeDir ? c : o;
      this.closeConn(loser, notif(6, 7), out);
      if (loser === c) return false;
    }
    return true;
  }

  private establish(c: Conn, out: FsmAction[]): void {
    c.state = 'Established';
    this.connectFailures = 0;
    this.lastError = undefined;
    // The peer may have connected to us while we were waiting out an error: that wait is over.
    this.idleHolding = false;
    out.push({ type: 'stopTimer', timer: 'connectRetry' }, { type: 'stopTimer', timer: 'idleHold' });
    for (const o of [...this.conns.values()]) if (o !== c) this.closeConn(o, o.state === 'Connecting' ? undefined : notif(6, 7), out);
    out.push({ type: 'established', conn: c.id, session: c.session as NegotiatedSession });
  }

  /** Closes one connection quietly (collision loser or stop): no error accounting. */
  private closeConn(c: Conn, n: NotificationMessage | undefined, out: FsmAction[]): void {
    this.conns.delete(c.id);
    if (n && c.state !== 'Connecting') out.push({ type: 'send', conn: c.id, message: n });
    out.push({ type: 'close', conn: c.id }, { type: 'stopTimer', timer: 'hold', conn: c.id }, { type: 'stopTimer', timer: 'keepalive', conn: c.id });
  }

  /** A connection failed: close it; if it carried the session, the session is down; if nothing is left, back off. */
  private drop(c: Conn, reason: string, out: FsmAction[], n: { sent?: NotificationMessage; received?: NotificationMessage }): void {
    const wasEstablished = c.state === 'Established';
    this.closeConn(c, undefined, out);
    this.lastError = reason;
    if (wasEstablished) out.push({ type: 'down', reason, ...n, graceful: gracefulEnd(c.session, n) });
    if (this.conns.size === 0 && this.started) this.sessionError(out);
  }

  private sessionError(out: FsmAction[]): void {
    const now = this.deps.now();
    const forget = (this.config.errorForget ?? DEFAULT_ERROR_FORGET) * 1000;
    if (now - this.lastErrorAt > forget) this.errorCount = 0;
    this.errorCount++;
    this.lastErrorAt = now;
    const [min, max] = this.config.errorWait ?? DEFAULT_ERROR_WAIT;
    this.idleHolding = true;
    out.push({ type: 'stopTimer', timer: 'connectRetry' });
    out.push({ type: 'startTimer', timer: 'idleHold', seconds: jitter(errorWaitInterval(min, max, this.errorCount), this.deps.random) });
  }

  private stop(subcode: number, reason: string, out: FsmAction[]): void {
    this.started = false;
    this.idleHolding = false;
    out.push({ type: 'stopTimer', timer: 'connectRetry' }, { type: 'stopTimer', timer: 'idleHold' });
    for (const c of [...this.conns.values()]) {
      const wasEstablished = c.state === 'Established';
      // With the N bit, a reset that should clear the peer's copy of our routes is a Hard Reset
      // carrying the original subcode (RFC 8538 §3); others leave our routes with the peer as stale.
      const n = c.session?.gracefulNotification && HARD_RESET_CEASES.has(subcode) ? notif(6, 9, Buffer.from([6, subcode])) : notif(6, subcode);
      this.closeConn(c, n, out);
      if (wasEstablished) out.push({ type: 'down', reason, sent: n, graceful: gracefulEnd(c.session, { sent: n }) });
    }
    this.lastError = reason;
  }
}
