import { describe, expect, it } from 'vitest';
import type { OpenMessage } from '../codec/types.js';
import { SessionFsm, connectRetryInterval, errorWaitInterval, jitter } from './fsm.js';
import { buildOpen, checkOpen, negotiate } from './open.js';
import type { FsmAction, FsmConfig } from './types.js';

const cfg: FsmConfig = { localAs: 64512, peerAs: 64512, routerId: '10.0.0.1', holdTime: 90, connectRetryTime: 10, connectRetryMax: 40, errorWait: [2, 16] };

function make(over: Partial<FsmConfig> = {}, clock = { t: 0 }): SessionFsm {
  return new SessionFsm({ ...cfg, ...over }, { now: () => clock.t, random: () => 1 });
}

function peerOpen(over: Partial<OpenMessage> = {}): OpenMessage {
  return { ...buildOpen({ localAs: 64512, peerAs: 64512, routerId: '10.0.0.2', holdTime: 60 }), ...over };
}

const sent = (acts: FsmAction[]): string[] =>
  acts.flatMap((a) => (a.type === 'send' ? [a.message.type === 'NOTIFICATION' ? `N${a.message.code}/${a.message.subcode}` : a.message.type] : []));
const of = <T extends FsmAction['type']>(acts: FsmAction[], t: T): Array<Extract<FsmAction, { type: T }>> =>
  acts.filter((a): a is Extract<FsmAction, { type: T }> => a.type === t);

/** Drives an outgoing connection to Established and returns its id. */
function establishOut(f: SessionFsm, open = peerOpen()): number {
  const acts = f.handle({ type: 'Start' });
  const conn = of(acts, 'connect')[0].conn;
  f.handle({ type: 'TcpConnected', conn, dir: 'out' });
  f.handle({ type: 'Message', conn, message: open });
  f.handle({ type: 'Message', conn, message: { type: 'KEEPALIVE' } });
  return conn;
}

describe('timers', () => {
  it('jitters into [0.75, 1] of the value', () => {
    expect(jitter(100, () => 0)).toBe(75);
    expect(jitter(100, () => 1)).toBe(100);
  });
  it('backs ConnectRetry off exponentially up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => connectRetryInterval(10, 40, n))).toEqual([10, 20, 40, 40, 40, 40]);
    expect(connectRetryInterval(120, 10, 3)).toBe(120); // a cap below the base never shortens it
  });
  it('grows the error wait per error in a sequence', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => errorWaitInterval(2, 16, n))).toEqual([2, 4, 8, 16, 16, 16]);
  });
});

describe('SessionFsm happy path', () => {
  it('Idle → Connect → OpenSent → OpenConfirm → Established with negotiated timers', () => {
    const f = make();
    expect(f.state).toBe('Idle');
    const a1 = f.handle({ type: 'Start' });
    expect(f.state).toBe('Connect');
    const conn = of(a1, 'connect')[0].conn;
    expect(of(a1, 'startTimer')).toEqual([{ type: 'startTimer', timer: 'connectRetry', seconds: 10 }]);
    const a2 = f.handle({ type: 'TcpConnected', conn, dir: 'out' });
    expect(sent(a2)).toEqual(['OPEN']);
    expect(f.state).toBe('OpenSent');
    expect(of(a2, 'startTimer')[0]).toMatchObject({ timer: 'hold', seconds: 240 });
    const a3 = f.handle({ type: 'Message', conn, message: peerOpen() });
    expect(sent(a3)).toEqual(['KEEPALIVE']);
    expect(f.state).toBe('OpenConfirm');
    expect(of(a3, 'startTimer')).toEqual([
      { type: 'startTimer', timer: 'hold', conn, seconds: 60 },
      { type: 'startTimer', timer: 'keepalive', conn, seconds: 20 },
    ]);
    const a4 = f.handle({ type: 'Message', conn, message: { type: 'KEEPALIVE' } });
    expect(f.state).toBe('Established');
    const est = of(a4, 'established')[0];
    expect(est.session).toMatchObject({ holdTime: 60, keepaliveTime: 20, peerAs: 64512, ebgp: false, routeRefresh: true });
    expect(of(a4, 'state')[0]).toMatchObject({ from: 'OpenConfirm', to: 'Established' });
  });

  it('sends keepalives on the keepalive timer and restarts hold on traffic', () => {
    const f = make();
    const conn = establishOut(f);
    const k = f.handle({ type: 'TimerExpired', timer: 'keepalive', conn });
    expect(sent(k)).toEqual(['KEEPALIVE']);
    expect(of(k, 'startTimer')[0]).toMatchObject({ timer: 'keepalive', seconds: 20 });
    expect(of(f.handle({ type: 'Traffic', conn }), 'startTimer')[0]).toMatchObject({ timer: 'hold', seconds: 60 });
  });

  it('delivers UPDATEs only when Established', () => {
    const f = make();
    const conn = establishOut(f);
    const upd = { type: 'UPDATE' as const, withdrawn: [], nlri: [] };
    expect(of(f.handle({ type: 'Message', conn, message: upd }), 'deliver')).toHaveLength(1);
  });

  it('hold time 0 negotiates no timers at all', () => {
    const f = make({ holdTime: 0 });
    const acts = f.handle({ type: 'Start' });
    const conn = of(acts, 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn, dir: 'out' });
    const a = f.handle({ type: 'Message', conn, message: peerOpen() });
    expect(of(a, 'startTimer')).toEqual([]);
    expect(of(a, 'stopTimer')[0]).toMatchObject({ timer: 'hold' });
  });

  it('a passive peer never connects and accepts the peer', () => {
    const f = make({ passive: true });
    expect(of(f.handle({ type: 'Start' }), 'connect')).toEqual([]);
    expect(f.state).toBe('Active');
    const a = f.handle({ type: 'TcpConnected', conn: 100, dir: 'in' });
    expect(sent(a)).toEqual(['OPEN']);
    f.handle({ type: 'Message', conn: 100, message: peerOpen() });
    f.handle({ type: 'Message', conn: 100, message: { type: 'KEEPALIVE' } });
    expect(f.state).toBe('Established');
  });

  it('accepted connections and the ones it dials never share an id (one counter for both)', () => {
    const f = make();
    const ids = of(f.handle({ type: 'Start' }), 'connect').map((c) => c.conn);
    for (let round = 0; round < 5; round++) {
      const inbound = f.newConnId();
      ids.push(inbound);
      f.handle({ type: 'TcpConnected', conn: inbound, dir: 'in' });
      // The peer hangs up; after the error wait we dial again, and the peer dials us again.
      f.handle({ type: 'TcpClosed', conn: inbound });
      ids.push(...of(f.handle({ type: 'TimerExpired', timer: 'idleHold' }), 'connect').map((c) => c.conn));
      ids.push(...of(f.handle({ type: 'TimerExpired', timer: 'connectRetry' }), 'connect').map((c) => c.conn));
    }
    expect(ids.length).toBeGreaterThan(10);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses incoming connections while Idle (not started)', () => {
    const f = make();
    expect(f.handle({ type: 'TcpConnected', conn: 5, dir: 'in' })).toEqual([{ type: 'close', conn: 5 }]);
  });
});

describe('SessionFsm errors', () => {
  it('hold timer expiry sends 4/0, reports down and idles with back-off', () => {
    const f = make();
    const conn = establishOut(f);
    const a = f.handle({ type: 'TimerExpired', timer: 'hold', conn });
    expect(sent(a)).toEqual(['N4/0']);
    expect(of(a, 'close')).toEqual([{ type: 'close', conn }]);
    expect(of(a, 'down')[0]).toMatchObject({ reason: 'hold timer expired' });
    expect(f.state).toBe('Idle');
    expect(of(a, 'startTimer').find((t) => t.timer === 'idleHold')?.seconds).toBe(2);
    const b = f.handle({ type: 'TimerExpired', timer: 'idleHold' });
    expect(of(b, 'connect')).toHaveLength(1);
    expect(f.state).toBe('Connect');
  });

  it('the peer connecting during the error wait establishes and ends the wait', () => {
    const f = make();
    const conn = establishOut(f);
    f.handle({ type: 'TcpClosed', conn });
    expect(f.state).toBe('Idle');
    f.handle({ type: 'TcpConnected', conn: 3000, dir: 'in' });
    f.handle({ type: 'Message', conn: 3000, message: peerOpen() });
    const a = f.handle({ type: 'Message', conn: 3000, message: { type: 'KEEPALIVE' } });
    expect(f.state).toBe('Established');
    expect(of(a, 'stopTimer').some((t) => t.timer === 'idleHold')).toBe(true);
    expect(f.handle({ type: 'TimerExpired', timer: 'idleHold' })).toEqual([]);
  });

  it('error wait doubles on consecutive errors and resets after the forget window', () => {
    const clock = { t: 0 };
    const f = make({ errorForget: 100 }, clock);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const conn = i === 0 ? establishOut(f) : (() => {
        const c = of(f.handle({ type: 'TimerExpired', timer: 'idleHold' }), 'connect')[0].conn;
        f.handle({ type: 'TcpConnected', conn: c, dir: 'out' });
        return c;
      })();
      const a = f.handle({ type: 'TcpClosed', conn });
      waits.push(of(a, 'startTimer').find((t) => t.timer === 'idleHold')?.seconds ?? -1);
      clock.t += 1000;
    }
    expect(waits).toEqual([2, 4, 8, 16, 16]);
    clock.t += 200_000;
    const c = of(f.handle({ type: 'TimerExpired', timer: 'idleHold' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn: c, dir: 'out' });
    expect(of(f.handle({ type: 'TcpClosed', conn: c }), 'startTimer').find((t) => t.timer === 'idleHold')?.seconds).toBe(2);
  });

  it('backs off ConnectRetry after repeated connect failures, and resets once established', () => {
    const f = make();
    let conn = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    const retries: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = f.handle({ type: 'TcpFailed', conn, error: 'ECONNREFUSED' });
      retries.push(of(a, 'startTimer')[0].seconds);
      expect(f.state).toBe('Active');
      conn = of(f.handle({ type: 'TimerExpired', timer: 'connectRetry' }), 'connect')[0].conn;
    }
    expect(retries).toEqual([20, 40, 40, 40]);
    expect(f.lastError).toContain('ECONNREFUSED');
    f.handle({ type: 'TcpConnected', conn, dir: 'out' });
    f.handle({ type: 'Message', conn, message: peerOpen() });
    f.handle({ type: 'Message', conn, message: { type: 'KEEPALIVE' } });
    f.handle({ type: 'TcpClosed', conn });
    const c2 = of(f.handle({ type: 'TimerExpired', timer: 'idleHold' }), 'connect')[0].conn;
    expect(of(f.handle({ type: 'TcpFailed', conn: c2, error: 'x' }), 'startTimer')[0].seconds).toBe(20);
  });

  it('rejects hold time 1 and 2 with 2/6, a wrong AS with 2/2, our own id on iBGP with 2/3', () => {
    expect(checkOpen(cfg, peerOpen({ holdTime: 1 }))?.notification).toMatchObject({ code: 2, subcode: 6 });
    expect(checkOpen(cfg, peerOpen({ holdTime: 2 }))?.notification).toMatchObject({ code: 2, subcode: 6 });
    expect(checkOpen(cfg, peerOpen({ holdTime: 3 }))).toBeUndefined();
    expect(checkOpen(cfg, buildOpen({ localAs: 65001, peerAs: 1, routerId: '1.1.1.1' }))?.notification).toMatchObject({ code: 2, subcode: 2 });
    expect(checkOpen(cfg, peerOpen({ bgpId: '10.0.0.1' }))?.notification).toMatchObject({ code: 2, subcode: 3 });
    expect(checkOpen(cfg, peerOpen({ bgpId: '0.0.0.0' }))?.notification).toMatchObject({ code: 2, subcode: 3 });
    // eBGP peers may share our identifier (RFC 6286).
    expect(checkOpen({ ...cfg, peerAs: 65001 }, buildOpen({ localAs: 65001, peerAs: 64512, routerId: '10.0.0.1' }))).toBeUndefined();
  });

  it('a bad OPEN sends its NOTIFICATION and closes', () => {
    const f = make();
    const conn = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn, dir: 'out' });
    const a = f.handle({ type: 'Message', conn, message: peerOpen({ holdTime: 2 }) });
    expect(sent(a)).toEqual(['N2/6']);
    expect(of(a, 'close')).toHaveLength(1);
    expect(f.state).toBe('Idle');
    expect(f.lastError).toContain('hold time 2');
  });

  it('unexpected messages are FSM errors with RFC 6608 subcodes', () => {
    const f = make();
    const conn = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn, dir: 'out' });
    expect(sent(f.handle({ type: 'Message', conn, message: { type: 'KEEPALIVE' } }))).toEqual(['N5/1']);
    const g = make();
    const c2 = establishOut(g);
    expect(sent(g.handle({ type: 'Message', conn: c2, message: peerOpen() }))).toEqual(['N5/3']);
  });

  it('a received NOTIFICATION tears the session down and is reported', () => {
    const f = make();
    const conn = establishOut(f);
    const n = { type: 'NOTIFICATION' as const, code: 6, subcode: 2, data: Buffer.alloc(0) };
    const a = f.handle({ type: 'Message', conn, message: n });
    expect(of(a, 'down')[0].received).toBe(n);
    expect(sent(a)).toEqual([]);
  });

  it('protocol errors from the codec send the given NOTIFICATION', () => {
    const f = make();
    const conn = establishOut(f);
    const n = { type: 'NOTIFICATION' as const, code: 3, subcode: 1, data: Buffer.alloc(0) };
    const a = f.handle({ type: 'ProtocolError', conn, notification: n, reason: 'malformed' });
    expect(sent(a)).toEqual(['N3/1']);
    expect(of(a, 'down')[0].sent).toBe(n);
  });

  it('Stop sends Cease/Administrative Shutdown and never restarts', () => {
    const f = make();
    establishOut(f);
    const a = f.handle({ type: 'Stop' });
    expect(sent(a)).toEqual(['N6/2']);
    expect(of(a, 'startTimer')).toEqual([]);
    expect(f.state).toBe('Idle');
    expect(f.handle({ type: 'TimerExpired', timer: 'connectRetry' })).toEqual([]);
  });
});

describe('connection collision (§6.8)', () => {
  function collide(localId: string, remoteId: string): { f: SessionFsm; out: number; inc: number; closed: number[] } {
    const f = make({ routerId: localId });
    const out = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn: out, dir: 'out' });
    const inc = 1000;
    f.handle({ type: 'TcpConnected', conn: inc, dir: 'in' });
    const o = peerOpen({ bgpId: remoteId });
    const closed: number[] = [];
    for (const a of [...f.handle({ type: 'Message', conn: out, message: o }), ...f.handle({ type: 'Message', conn: inc, message: o })])
      if (a.type === 'close') closed.push(a.conn);
    return { f, out, inc, closed };
  }

  it('local id lower: our own connection is closed, the peer\'s survives', () => {
    const { f, out, inc, closed } = collide('10.0.0.1', '10.0.0.2');
    expect(closed).toEqual([out]);
    expect(f.connections()).toEqual([{ id: inc, dir: 'in', state: 'OpenConfirm' }]);
    f.handle({ type: 'Message', conn: inc, message: { type: 'KEEPALIVE' } });
    expect(f.state).toBe('Established');
  });

  it('local id higher: the peer\'s connection is closed, ours survives', () => {
    const { f, out, inc, closed } = collide('10.0.0.9', '10.0.0.2');
    expect(closed).toEqual([inc]);
    expect(f.connections()).toEqual([{ id: out, dir: 'out', state: 'OpenConfirm' }]);
  });

  it('ids compare as unsigned integers, not strings', () => {
    const { closed, out } = collide('9.0.0.1', '10.0.0.2');
    expect(closed).toEqual([out]);
  });

  it('the loser is closed with Cease/Connection Collision Resolution and no back-off', () => {
    const f = make({ routerId: '10.0.0.1' });
    const out = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn: out, dir: 'out' });
    f.handle({ type: 'TcpConnected', conn: 1000, dir: 'in' });
    f.handle({ type: 'Message', conn: out, message: peerOpen() });
    const a = f.handle({ type: 'Message', conn: 1000, message: peerOpen() });
    expect(sent(a)).toEqual(['N6/7', 'KEEPALIVE']);
    expect(of(a, 'startTimer').some((t) => t.timer === 'idleHold')).toBe(false);
  });

  it('a new connection while Established is closed, the session untouched', () => {
    const f = make();
    const conn = establishOut(f);
    const a = f.handle({ type: 'TcpConnected', conn: 2000, dir: 'in' });
    expect(of(a, 'close')).toEqual([{ type: 'close', conn: 2000 }]);
    expect(f.connections()).toEqual([{ id: conn, dir: 'out', state: 'Established' }]);
  });

  it('establishing closes the other half-open connection', () => {
    const f = make({ routerId: '10.0.0.1' });
    const out = of(f.handle({ type: 'Start' }), 'connect')[0].conn;
    f.handle({ type: 'TcpConnected', conn: 1000, dir: 'in' });
    f.handle({ type: 'Message', conn: 1000, message: peerOpen() });
    const a = f.handle({ type: 'Message', conn: 1000, message: { type: 'KEEPALIVE' } });
    expect(of(a, 'close')).toEqual([{ type: 'close', conn: out }]);
    expect(f.connections()).toHaveLength(1);
  });
});

describe('negotiation', () => {
  it('takes the smaller hold time, common families, GR and 4-octet AS', () => {
    const local = buildOpen({ ...cfg, families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] });
    const remote = buildOpen({ localAs: 64512, peerAs: 64512, routerId: '10.0.0.2', holdTime: 9, families: [{ afi: 2, safi: 1 }], gracefulRestart: { restartTime: 120, restarting: true, forwardingState: true } });
    const n = negotiate(cfg, local, remote);
    expect(n.holdTime).toBe(9);
    expect(n.keepaliveTime).toBe(3);
    expect(n.families).toEqual([{ afi: 2, safi: 1 }]);
    expect(n.codec.fourOctetAs).toBe(true);
    expect(n.peerGracefulRestart).toMatchObject({ restartTime: 120, restarting: true, families: [{ afi: 2, safi: 1, forwardingState: true }] });
  });
  it('a peer without Multiprotocol is IPv4 unicast only', () => {
    const remote: OpenMessage = { type: 'OPEN', version: 4, myAs: 64512, holdTime: 90, bgpId: '10.0.0.2', capabilities: [] };
    const n = negotiate(cfg, buildOpen(cfg), remote);
    expect(n.families).toEqual([{ afi: 1, safi: 1 }]);
    expect(n.codec.fourOctetAs).toBe(false);
    expect(n.routeRefresh).toBe(false);
  });
  it('uses AS_TRANS in the 2-octet field for a 4-octet AS', () => {
    const o = buildOpen({ ...cfg, localAs: 4200000000 });
    expect(o.myAs).toBe(23456);
    expect(o.capabilities).toContainEqual({ code: 65, asn: 4200000000 });
  });
});

describe('graceful restart N bit (RFC 8538)', () => {
  const gr = (notification: boolean) => ({ restartTime: 120, restarting: false, forwardingState: false, notification });
  const peerWith = (notification: boolean): OpenMessage => peerOpen({ capabilities: buildOpen({ localAs: 64512, peerAs: 64512, routerId: '10.0.0.2', gracefulRestart: gr(notification) }).capabilities });
  const downOf = (acts: FsmAction[]) => of(acts, 'down')[0];

  it('is advertised in the GR flags (with R when restarting) and negotiated only when both sides set it', () => {
    const flags = (o: OpenMessage): number | undefined => o.capabilities.flatMap((c) => (c.code === 64 && 'restartFlags' in c ? [c.restartFlags] : []))[0];
    expect(flags(buildOpen({ ...cfg, gracefulRestart: gr(true) }))).toBe(0x4);
    expect(flags(buildOpen({ ...cfg, gracefulRestart: { ...gr(true), restarting: true } }))).toBe(0xc);
    expect(flags(buildOpen({ ...cfg, gracefulRestart: gr(false) }))).toBe(0);
    const local = buildOpen({ ...cfg, gracefulRestart: gr(true) });
    expect(negotiate(cfg, local, peerWith(true)).gracefulNotification).toBe(true);
    expect(negotiate(cfg, local, peerWith(false)).gracefulNotification).toBe(false);
    expect(negotiate(cfg, buildOpen({ ...cfg, gracefulRestart: gr(false) }), peerWith(true)).gracefulNotification).toBe(false);
  });

  it('with N exchanged, a NOTIFICATION other than Hard Reset ends the session gracefully; Hard Reset does not', () => {
    for (const [n, code, subcode, graceful] of [
      [true, 6, 2, true],
      [true, 4, 0, true],
      [true, 6, 9, false],
      [false, 6, 2, false],
    ] as const) {
      const f = make({ gracefulRestart: gr(true) });
      const conn = establishOut(f, peerWith(n));
      const acts = f.handle({ type: 'Message', conn, message: { type: 'NOTIFICATION', code, subcode, data: Buffer.alloc(0) } });
      expect(downOf(acts), `N=${n} ${code}/${subcode}`).toMatchObject({ graceful });
    }
  });

  it('a TCP failure is always graceful; our hold timer expiry is graceful only with N', () => {
    for (const n of [true, false]) {
      const f = make({ gracefulRestart: gr(true) });
      const conn = establishOut(f, peerWith(n));
      expect(downOf(f.handle({ type: 'TimerExpired', timer: 'hold', conn }))).toMatchObject({ graceful: n, sent: { code: 4 } });
      const g = make({ gracefulRestart: gr(true) });
      const c2 = establishOut(g, peerWith(n));
      expect(downOf(g.handle({ type: 'TcpClosed', conn: c2 }))).toMatchObject({ graceful: true });
    }
  });

  it('with N exchanged, de-configuring the peer sends Hard Reset carrying the Cease subcode; a config change does not', () => {
    const f = make({ gracefulRestart: gr(true) });
    establishOut(f, peerWith(true));
    const acts = f.handle({ type: 'Stop', subcode: 3, reason: 'peer de-configured' });
    const n = of(acts, 'send')[0]?.message;
    expect(n).toMatchObject({ type: 'NOTIFICATION', code: 6, subcode: 9 });
    expect(n?.type === 'NOTIFICATION' ? [...n.data] : []).toEqual([6, 3]);
    expect(downOf(acts)).toMatchObject({ graceful: false });
    const g = make({ gracefulRestart: gr(true) });
    establishOut(g, peerWith(true));
    const b = g.handle({ type: 'Stop', subcode: 6, reason: 'other configuration change' });
    expect(sent(b)).toEqual(['N6/6']);
    expect(downOf(b)).toMatchObject({ graceful: true });
    // Without N the plain Cease goes out.
    const h = make({ gracefulRestart: gr(true) });
    establishOut(h, peerWith(false));
    expect(sent(h.handle({ type: 'Stop', subcode: 3 }))).toEqual(['N6/3']);
  });
});
