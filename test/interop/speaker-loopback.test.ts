// Three in-process speakers on loopback addresses (127.0.0.x, each its own listener): route
// reflection, setPeers() diffing that leaves untouched peers alone, and a large UPDATE burst
// that must not starve keepalives / hold timers (sessions with a 3 s hold time stay up).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Speaker, type PeerConfig, type SpeakerConfig } from '../../bgp/speaker/index.js';
import type { RouteSinkEvent } from '../../bgp/types.js';
import { waitFor } from '../harness/daemon.js';
import { freePort } from '../harness/ports.js';

const AS = 64512;
const log = pino({ level: process.env.TORTIE_TEST_LOG ?? 'silent' });

class Sink {
  installed = new Map<string, RouteSinkEvent>();
  onRoute(ev: RouteSinkEvent): void {
    const k = `${ev.prefix.address}/${ev.prefix.length}`;
    if (ev.type === 'install') this.installed.set(k, ev);
    else this.installed.delete(k);
  }
}

describe('speakers on loopback', () => {
  const A = '127.0.0.21';
  const B = '127.0.0.22';
  const C = '127.0.0.23';
  let port: number;
  const sinks = { a: new Sink(), b: new Sink(), c: new Sink() };
  let a: Speaker;
  let b: Speaker;
  let c: Speaker;
  const cfg = (routerId: string): SpeakerConfig => ({
    asNumber: AS,
    routerId,
    listenPort: port,
    listenAddresses: [routerId],
    holdTime: 3,
    connectRetryTime: 0.5,
    connectRetryMax: 1,
    errorWait: [0.5, 1],
    families: [4],
  });
  const peer = (address: string, over: Partial<PeerConfig> = {}): PeerConfig => ({ address, asNumber: AS, type: 'global', port, ...over });
  const peerOf = (s: Speaker, addr: string) => s.peerStatus().find((p) => p.address === addr);

  beforeAll(async () => {
    port = await freePort(A);
    a = new Speaker({ ...cfg(A), clusterId: '1.1.1.1' }, sinks.a, log);
    b = new Speaker(cfg(B), sinks.b, log);
    c = new Speaker(cfg(C), sinks.c, log);
    await a.start([peer(B, { rrClient: true, sourceAddress: A }), peer(C, { rrClient: true, sourceAddress: A })]);
    await b.start([peer(A, { sourceAddress: B })]);
    await c.start([peer(A, { sourceAddress: C })]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  });

  it('establishes and reflects client routes to the other client', async () => {
    await waitFor('sessions up', async () => (peerOf(a, B)?.state === 'Established' && peerOf(a, C)?.state === 'Established' ? true : undefined));
    b.announce([{ family: 4, address: '10.50.0.0', length: 24 }], { communities: [AS * 65536 + 1] });
    const ev = await waitFor('reflected to C', async () => sinks.c.installed.get('10.50.0.0/24'));
    expect(ev).toMatchObject({ type: 'install', nextHops: [B], sourcePeer: A });
    if (ev.type !== 'install') return;
    expect(ev.attrs.originatorId).toBe(B);
    expect(ev.attrs.clusterList).toEqual(['1.1.1.1']);
    expect(ev.attrs.communities).toEqual([AS * 65536 + 1]);
    // B does not get its own route back (it would drop it anyway: ORIGINATOR_ID is B).
    expect(sinks.b.installed.has('10.50.0.0/24')).toBe(false);
    b.withdraw([{ family: 4, address: '10.50.0.0', length: 24 }]);
    await waitFor('withdrawn at C', async () => (sinks.c.installed.has('10.50.0.0/24') ? undefined : true));
  });

  it('setPeers changes one peer without touching the other', async () => {
    const sinceB = peerOf(a, B)?.since;
    await new Promise((r) => setTimeout(r, 20));
    a.setPeers([peer(B, { rrClient: true, sourceAddress: A }), peer(C, { rrClient: true, sourceAddress: A, holdTime: 6 })]);
    await waitFor('C re-established', async () => (peerOf(a, C)?.state === 'Established' ? true : undefined), 20_000);
    expect(peerOf(a, B)?.since).toBe(sinceB);
    expect(peerOf(a, B)?.state).toBe('Established');
  });

  it('a burst of 100,000 prefixes is processed without starving keepalives (hold time 3 s)', async () => {
    await waitFor('sessions up', async () => (peerOf(a, B)?.state === 'Established' && peerOf(b, A)?.state === 'Established' && peerOf(a, C)?.state === 'Established' ? true : undefined), 20_000);
    const sinceAB = peerOf(a, B)?.since;
    const sinceBA = peerOf(b, A)?.since;
    const prefixes = Array.from({ length: 100_000 }, (_, i) => ({ family: 4 as const, address: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, length: 32 }));
    // The announce is selected in slices: timers (here a 1 ms interval; in the speaker, the hold
    // timers and keepalives) run while B still has prefixes waiting for selection.
    let ticksWhileSelecting = 0;
    const tick = setInterval(() => (b.localSelectionPending ? ticksWhileSelecting++ : undefined), 1);
    b.announce(prefixes);
    await waitFor('all prefixes at A', async () => (peerOf(a, B)?.prefixesAccepted === 100_000 ? true : undefined), 120_000, 200);
    clearInterval(tick);
    expect(ticksWhileSelecting).toBeGreaterThan(0);
    await waitFor('all prefixes reflected to C', async () => (sinks.c.installed.size >= 100_000 ? true : undefined), 120_000, 200);
    // Hold three more seconds: a starved session would have expired by now.
    await new Promise((r) => setTimeout(r, 3500));
    expect(peerOf(a, B)).toMatchObject({ state: 'Established', since: sinceAB });
    expect(peerOf(b, A)).toMatchObject({ state: 'Established', since: sinceBA });
    b.withdraw(prefixes);
    await waitFor('all withdrawn at C', async () => (sinks.c.installed.size === 0 ? true : undefined), 120_000, 200);
  });
});
