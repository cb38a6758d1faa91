// The graceful restart capability in our OPEN (RFC 4724 §3): R while restarting, F per family whose
// forwarding state survived, N always; and the OPEN of a later connection once the restart is over.
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../codec/index.js';
import type { OpenMessage } from '../codec/types.js';
import { SessionFsm } from './fsm.js';
import { buildOpen } from './open.js';
import type { FsmAction, FsmConfig } from './types.js';

const both = [
  { afi: 1, safi: 1 },
  { afi: 2, safi: 1 },
];
const cfg: FsmConfig = { localAs: 64512, peerAs: 64512, routerId: '10.0.0.1', holdTime: 90, families: both };
const restarting = { restartTime: 120, restarting: true, forwardingState: true, notification: true };
const cold = { restartTime: 120, restarting: false, forwardingState: false, notification: true };

/** The GR capability's value bytes as they go on the wire. */
function grBytes(open: OpenMessage): number[] {
  const wire = encodeMessage(open, { fourOctetAs: true, ebgp: false });
  const families = open.capabilities.flatMap((c) => (c.code === 64 && 'families' in c ? c.families : [])).length;
  // Capability code 64, length 2 + 4 per family, then the value.
  const len = 2 + 4 * families;
  const i = wire.indexOf(Buffer.from([64, len]), 29);
  expect(i).toBeGreaterThan(0);
  return [...wire.subarray(i + 2, i + 2 + len)];
}

describe('OPEN graceful restart capability', () => {
  it('restarting with both families kept: R and N set, F on IPv4 and IPv6 unicast', () => {
    // flags 0xC (R|N) with time 120 = 0xC078; then AFI 1 SAFI 1 F, AFI 2 SAFI 1 F.
    expect(grBytes(buildOpen({ ...cfg, gracefulRestart: restarting }))).toEqual([0xc0, 0x78, 0, 1, 1, 0x80, 0, 2, 1, 0x80]);
  });

  it('restarting with only IPv4 routes in the kernel: F on IPv4 only', () => {
    expect(grBytes(buildOpen({ ...cfg, gracefulRestart: { ...restarting, forwardingAfis: [1] } }))).toEqual([0xc0, 0x78, 0, 1, 1, 0x80, 0, 2, 1, 0x00]);
  });

  it('cold start: N only, no R, no F', () => {
    expect(grBytes(buildOpen({ ...cfg, gracefulRestart: cold }))).toEqual([0x40, 0x78, 0, 1, 1, 0, 0, 2, 1, 0]);
  });

  it('a later connection after the restart is over sends neither R nor F', () => {
    const f = new SessionFsm({ ...cfg, gracefulRestart: restarting }, { now: () => 0, random: () => 1 });
    const openOf = (acts: FsmAction[]): OpenMessage | undefined =>
      acts.flatMap((a) => (a.type === 'send' && a.message.type === 'OPEN' ? [a.message] : []))[0];
    const connect = (): OpenMessage | undefined => {
      const conn = f.handle({ type: 'Start' }).flatMap((a) => (a.type === 'connect' ? [a.conn] : []))[0] ?? -1;
      return openOf(f.handle({ type: 'TcpConnected', conn, dir: 'out' }));
    };
    const first = connect();
    expect(first && grBytes(first)).toEqual([0xc0, 0x78, 0, 1, 1, 0x80, 0, 2, 1, 0x80]);
    f.setGracefulRestart(cold);
    expect(f.config.gracefulRestart).toEqual(cold);
    f.handle({ type: 'Stop' });
    const second = connect();
    expect(second && grBytes(second)).toEqual([0x40, 0x78, 0, 1, 1, 0, 0, 2, 1, 0]);
  });
});
