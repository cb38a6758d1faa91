// Random event sequences against the FSM: it never throws, never holds two sessions, and its
// actions only ever touch connections it knows about.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { BgpMessage } from '../codec/types.js';
import { SessionFsm } from './fsm.js';
import { buildOpen } from './open.js';
import type { FsmEvent } from './types.js';

const peerOpen = buildOpen({ localAs: 64512, peerAs: 64512, routerId: '10.0.0.2', holdTime: 30 });
const messages: BgpMessage[] = [
  peerOpen,
  { ...peerOpen, holdTime: 1 },
  { type: 'KEEPALIVE' },
  { type: 'UPDATE', withdrawn: [], nlri: [] },
  { type: 'NOTIFICATION', code: 6, subcode: 7, data: Buffer.alloc(0) },
  { type: 'ROUTE_REFRESH', afi: 1, safi: 1, subtype: 0 },
];

const conn = fc.integer({ min: 1, max: 6 });
const event: fc.Arbitrary<FsmEvent> = fc.oneof(
  fc.constant<FsmEvent>({ type: 'Start' }),
  fc.constant<FsmEvent>({ type: 'Stop' }),
  conn.map((c): FsmEvent => ({ type: 'TcpConnected', conn: c, dir: 'out' })),
  conn.map((c): FsmEvent => ({ type: 'TcpConnected', conn: c + 100, dir: 'in' })),
  conn.map((c): FsmEvent => ({ type: 'TcpFailed', conn: c, error: 'refused' })),
  fc.oneof(conn, conn.map((c) => c + 100)).map((c): FsmEvent => ({ type: 'TcpClosed', conn: c })),
  fc.constant<FsmEvent>({ type: 'TimerExpired', timer: 'connectRetry' }),
  fc.constant<FsmEvent>({ type: 'TimerExpired', timer: 'idleHold' }),
  fc.tuple(fc.constantFrom('hold', 'keepalive') as fc.Arbitrary<'hold' | 'keepalive'>, fc.oneof(conn, conn.map((c) => c + 100))).map(([t, c]): FsmEvent => ({ type: 'TimerExpired', timer: t, conn: c })),
  fc.tuple(fc.oneof(conn, conn.map((c) => c + 100)), fc.constantFrom(...messages)).map(([c, m]): FsmEvent => ({ type: 'Message', conn: c, message: m })),
);

describe('SessionFsm under random events', () => {
  it('keeps its invariants', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), fc.boolean(), (events, passive) => {
        const f = new SessionFsm({ localAs: 64512, peerAs: 64512, routerId: '10.0.0.1', passive }, { now: () => 0, random: () => 0.5 });
        const known = new Set<number>();
        for (const ev of events) {
          if (ev.type === 'TcpConnected') known.add(ev.conn); // the driver holds that socket
          const acts = f.handle(ev);
          for (const a of acts) {
            if (a.type === 'connect') known.add(a.conn);
            if (a.type === 'send' || a.type === 'close') expect(known.has(a.conn)).toBe(true);
            if (a.type === 'connect') expect(passive).toBe(false);
          }
          const conns = f.connections();
          expect(conns.filter((c) => c.state === 'Established').length).toBeLessThanOrEqual(1);
          expect(f.state === 'Established').toBe(conns.some((c) => c.state === 'Established'));
          if (f.state === 'Established') expect(f.session).toBeDefined();
        }
      }),
      { numRuns: 2000 },
    );
  });
});
