// A multi-homed reflector on loopback: it listens on two addresses (one per "fabric") and its
// clients reach it on either. Clients differing only in our address on their session share one
// update group (one export and one encoding per batch for reflected routes), while the routes the
// reflector originates itself still go to each client with the reflector's address on that
// client's session as NEXT_HOP (next-hop-self per member address). A fourth client reaches it over
// IPv6 (::1) for IPv4 routes: the group is the same, but our own IPv4 route has no IPv4 next hop on
// that session, so that client alone does not get it.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Speaker, type PeerConfig, type SpeakerConfig } from '../../bgp/speaker/index.js';
import type { PathAttributes, RouteSinkEvent } from '../../bgp/types.js';
import { waitFor } from '../harness/daemon.js';
import { freePort } from '../harness/ports.js';

const AS = 64512;
const log = pino({ level: process.env.TORTIE_TEST_LOG ?? 'silent' });

class Sink {
  installed = new Map<string, { nextHop: string; attrs: PathAttributes }>();
  onRoute(ev: RouteSinkEvent): void {
    const k = `${ev.prefix.address}/${ev.prefix.length}`;
    if (ev.type === 'install') this.installed.set(k, { nextHop: ev.nextHops[0] ?? '', attrs: ev.attrs });
    else this.installed.delete(k);
  }
}

describe('multi-homed reflector: one update group across local addresses', () => {
  // The reflector's two addresses, and three clients: B and D reach it on A1, C on A2.
  const A1 = '127.0.0.111';
  const A2 = '127.0.0.112';
  const B = '127.0.0.113';
  const C = '127.0.0.114';
  const D = '127.0.0.115';
  const E = '::1';
  let port: number;
  const sinks = { b: new Sink(), c: new Sink(), d: new Sink(), e: new Sink() };
  let a: Speaker | undefined;
  const clients: Speaker[] = [];
  const cfg = (routerId: string, listen: string[]): SpeakerConfig => ({ asNumber: AS, routerId, listenPort: port, listenAddresses: listen, holdTime: 30, connectRetryTime: 0.5, connectRetryMax: 1, errorWait: [0.5, 1], families: [4] });
  const peer = (address: string, over: Partial<PeerConfig> = {}): PeerConfig => ({ address, asNumber: AS, type: 'node', port, ...over });
  const rr = (): Speaker => {
    if (!a) throw new Error('reflector not started');
    return a;
  };
  const OWN = { family: 4 as const, address: '10.111.0.0', length: 24 };
  const CLIENT = { family: 4 as const, address: '10.111.1.0', length: 26 };

  beforeAll(async () => {
    port = await freePort(A1);
    a = new Speaker({ ...cfg(A1, [A1, A2, E]), clusterId: '1.1.1.1' }, { onRoute: () => undefined }, log);
    // Passive towards its clients: our address on each session is the one the client dialled.
    await a.start([B, C, D, E].map((x) => peer(x, { rrClient: true, passive: true })));
    for (const [self, to, sink] of [[B, A1, sinks.b], [C, A2, sinks.c], [D, A1, sinks.d]] as const) {
      const s = new Speaker(cfg(self, [self]), sink, log);
      clients.push(s);
      await s.start([peer(to, { sourceAddress: self })]);
    }
    // E does not listen (::1 is the reflector's address too): it dials.
    const e = new Speaker({ ...cfg('127.0.0.116', []), listenPort: 0 }, sinks.e, log);
    clients.push(e);
    await e.start([peer(E, { sourceAddress: E })]);
    await waitFor('sessions up', async () => (rr().peerStatus().every((p) => p.state === 'Established') ? true : undefined), 20_000);
    await waitFor('all grouped', async () => ([B, C, D, E].every((x) => rr().outQueue(x)?.mode === 'grouped') ? true : undefined), 10_000);
  });

  afterAll(async () => {
    const stops = await Promise.allSettled([a, ...clients].filter((s): s is Speaker => s !== undefined).map((s) => s.stop()));
    for (const r of stops) if (r.status === 'rejected') throw r.reason;
  });

  it('clients reaching us on different addresses (and families) share one group', () => {
    for (const x of [B, C, D, E]) expect(rr().outQueue(x)?.groupMembers).toBe(4);
  });

  it('a reflected route is encoded once and keeps its NEXT_HOP at every client', async () => {
    const before = { ...rr().outStats };
    clients[0].announce([CLIENT]);
    await waitFor('reflected to C, D and E', async () => ([sinks.c, sinks.d, sinks.e].every((s) => s.installed.has('10.111.1.0/26')) ? true : undefined), 20_000);
    for (const s of [sinks.c, sinks.d, sinks.e]) expect(s.installed.get('10.111.1.0/26')?.nextHop).toBe(B);
    const batches = rr().outStats.groupBatches - before.groupBatches;
    expect(batches).toBeGreaterThan(0);
    // One group: each batch went to the four members (B's copy without its own route).
    expect(rr().outStats.groupWrites - before.groupWrites).toBe(batches * 4);
    expect(sinks.b.installed.has('10.111.1.0/26')).toBe(false);
  });

  it("the reflector's own route goes to each client with the address of that client's session as NEXT_HOP", async () => {
    rr().announce([OWN], { communities: [AS * 65536 + 1] });
    await waitFor('own route at every client', async () => ([sinks.b, sinks.c, sinks.d].every((s) => s.installed.get('10.111.0.0/24')?.attrs.communities?.[0] === AS * 65536 + 1) ? true : undefined), 20_000);
    expect(sinks.b.installed.get('10.111.0.0/24')?.nextHop).toBe(A1);
    expect(sinks.c.installed.get('10.111.0.0/24')?.nextHop).toBe(A2);
    expect(sinks.d.installed.get('10.111.0.0/24')?.nextHop).toBe(A1);
    // No IPv4 address of ours on E's session: no usable next hop, so E does not get it.
    expect(sinks.e.installed.has('10.111.0.0/24')).toBe(false);
    // A change of its attributes reaches everyone, still with the right next hop each.
    rr().announce([OWN], { communities: [AS * 65536 + 2] });
    await waitFor('changed at every client', async () => ([sinks.b, sinks.c, sinks.d].every((s) => s.installed.get('10.111.0.0/24')?.attrs.communities?.[0] === AS * 65536 + 2) ? true : undefined), 20_000);
    expect(sinks.c.installed.get('10.111.0.0/24')?.nextHop).toBe(A2);
    expect(sinks.b.installed.get('10.111.0.0/24')?.nextHop).toBe(A1);
    expect(sinks.e.installed.has('10.111.0.0/24')).toBe(false);
    for (const x of [B, C, D, E]) expect(rr().outQueue(x)?.groupMembers).toBe(4);
  });

  it('a client joining later gets the same: its own next hop for our route, the reflected ones unchanged', async () => {
    // C's session restarts (new configuration on its side): it re-syncs and rejoins the group.
    clients[1].setPeers([peer(A2, { sourceAddress: C, holdTime: 20 })]);
    await waitFor('C back in the group', async () => (rr().outQueue(C)?.mode === 'grouped' && rr().outQueue(C)?.groupMembers === 4 ? true : undefined), 20_000);
    await waitFor('C has both routes', async () => (sinks.c.installed.has('10.111.0.0/24') && sinks.c.installed.has('10.111.1.0/26') ? true : undefined), 20_000);
    expect(sinks.c.installed.get('10.111.0.0/24')?.nextHop).toBe(A2);
    expect(sinks.c.installed.get('10.111.1.0/26')?.nextHop).toBe(B);
  });

  it('withdrawals of our own and of reflected routes reach every client', async () => {
    rr().withdraw([OWN]);
    clients[0].withdraw([CLIENT]);
    await waitFor('gone everywhere', async () => ([sinks.b, sinks.c, sinks.d, sinks.e].every((s) => s.installed.size === 0) ? true : undefined), 20_000);
  });
});
