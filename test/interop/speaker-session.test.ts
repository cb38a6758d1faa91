// Session plumbing of the speaker on loopback addresses (127.0.0.6x), observed from the outside:
// a plain TCP listener standing in for a peer sees where we connect from (source address binding),
// to which port (configurable peer port), what our OPEN says (graceful restart R, N and F bits), and
// that a passive peer is never dialled; a raw client sees that we listen on the configured address
// and port and refuse unconfigured sources. Then the restarting speaker's selection deferral: it
// ends at every peer's End-of-RIB, or at the deferral timer when a peer stays away.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { MessageFramer, decodeMessage, encodeMessage, endOfRib, findCapability, makeOpen, packUpdates } from '../../bgp/codec/index.js';
import type { OpenMessage } from '../../bgp/codec/types.js';
import { Speaker, type PeerConfig, type SpeakerConfig } from '../../bgp/speaker/index.js';
import type { PathAttributes, RouteSinkEvent } from '../../bgp/types.js';
import { waitFor } from '../harness/daemon.js';
import { freePort } from '../harness/ports.js';

const AS = 64512;
const log = pino({ level: process.env.TORTIE_TEST_LOG ?? 'silent' });

class Sink {
  readonly installed = new Map<string, RouteSinkEvent>();
  onRoute(ev: RouteSinkEvent): void {
    const k = `${ev.prefix.address}/${ev.prefix.length}`;
    if (ev.type === 'install') this.installed.set(k, ev);
    else this.installed.delete(k);
  }
}

/** A TCP listener standing in for a peer: records each connection and the first message on it. */
class FakePeer {
  readonly conns: Array<{ remoteAddress: string; first: Promise<OpenMessage> }> = [];
  private readonly sockets: Socket[] = [];
  private constructor(private readonly server: Server) {}

  static async listen(host: string, port: number): Promise<FakePeer> {
    const server = createServer();
    const fp = new FakePeer(server);
    server.on('connection', (s) => fp.onConnection(s));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
    return fp;
  }

  private onConnection(s: Socket): void {
    this.sockets.push(s);
    const framer = new MessageFramer();
    const first = new Promise<OpenMessage>((resolve, reject) => {
      s.on('data', (chunk: Buffer) => {
        const [frame] = framer.push(chunk);
        if (!frame) return;
        const m = decodeMessage(frame, { fourOctetAs: false });
        if (m.ok && m.message.type === 'OPEN') resolve(m.message);
        else reject(new Error('first message is not an OPEN'));
      });
    });
    first.catch(() => undefined);
    this.conns.push({ remoteAddress: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), first });
  }

  /** Drops every connection but keeps listening (the speaker dials again). */
  drop(): void {
    for (const s of this.sockets.splice(0)) s.destroy();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const base = (routerId: string, over: Partial<SpeakerConfig> = {}): SpeakerConfig => ({
  asNumber: AS,
  routerId,
  listenPort: 0,
  holdTime: 9,
  connectRetryTime: 0.3,
  connectRetryMax: 0.6,
  errorWait: [0.3, 0.6],
  ...over,
});

describe('speaker sessions on loopback', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const started = async (cfg: SpeakerConfig, peers: PeerConfig[], sink = new Sink()): Promise<Speaker> => {
    const s = new Speaker(cfg, sink, log);
    cleanups.push(() => s.stop());
    await s.start(peers);
    return s;
  };

  it('dials the configured peer port from the configured source address; the OPEN carries GR with N but without R/F bits', async () => {
    const port = await freePort('127.0.0.62');
    const fp = await FakePeer.listen('127.0.0.62', port);
    cleanups.push(() => fp.close());
    await started(base('127.0.0.61', { gracefulRestart: { restartTime: 90 } }), [{ address: '127.0.0.62', asNumber: AS, type: 'global', port, sourceAddress: '127.0.0.63' }]);
    await waitFor('connection', async () => fp.conns[0]);
    // Without binding, Linux would pick 127.0.0.1 for a loopback destination.
    expect(fp.conns[0].remoteAddress).toBe('127.0.0.63');
    const open = await fp.conns[0].first;
    expect(open).toMatchObject({ myAs: AS, holdTime: 9, bgpId: '127.0.0.61' });
    const gr = findCapability(open.capabilities, 64);
    // N (RFC 8538) always; R only when restarting.
    expect(gr).toMatchObject({ restartFlags: 0x4, restartTime: 90 });
    expect(gr?.families.map((f) => [f.afi, f.forwardingState])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it('a restarting speaker advertises the R bit (and N) and forwarding state (F) for every family', async () => {
    const port = await freePort('127.0.0.62');
    const fp = await FakePeer.listen('127.0.0.62', port);
    cleanups.push(() => fp.close());
    await started(base('127.0.0.61', { gracefulRestart: { restartTime: 90, restarting: true, deferralTime: 60 } }), [
      { address: '127.0.0.62', asNumber: AS, type: 'global', port, sourceAddress: '127.0.0.61' },
    ]);
    const open = await (await waitFor('connection', async () => fp.conns[0])).first;
    const gr = findCapability(open.capabilities, 64);
    expect(gr?.restartFlags).toBe(0x8 | 0x4);
    expect(gr?.families.every((f) => f.forwardingState)).toBe(true);
  });

  it('a passive peer is never dialled', async () => {
    const port = await freePort('127.0.0.62');
    const fp = await FakePeer.listen('127.0.0.62', port);
    cleanups.push(() => fp.close());
    const s = await started(base('127.0.0.61'), [
      { address: '127.0.0.62', asNumber: AS, type: 'mesh', port, sourceAddress: '127.0.0.61', passive: true },
      { address: '127.0.0.64', asNumber: AS, type: 'mesh', port, sourceAddress: '127.0.0.61' },
    ]);
    // The active peer (nothing listens at .64) is retried several times meanwhile.
    await new Promise((r) => setTimeout(r, 2000));
    expect(fp.conns).toHaveLength(0);
    const st = s.peerStatus();
    expect(st.find((p) => p.address === '127.0.0.62')?.state).toBe('Active');
    expect(st.find((p) => p.address === '127.0.0.64')?.info).toMatch(/connect failed/);
  });

  it('listens on the configured address and port; a configured peer gets our OPEN, others are refused', async () => {
    const port = await freePort('127.0.0.65');
    await started(base('127.0.0.65', { listenPort: port, listenAddresses: ['127.0.0.65'] }), [
      { address: '127.0.0.66', asNumber: AS, type: 'global', passive: true },
    ]);
    const dial = (from: string): Promise<{ open?: OpenMessage; closed: boolean }> =>
      new Promise((resolve, reject) => {
        const sock = connect({ host: '127.0.0.65', port, localAddress: from });
        const framer = new MessageFramer();
        sock.on('data', (chunk: Buffer) => {
          const [frame] = framer.push(chunk);
          if (!frame) return;
          const m = decodeMessage(frame, { fourOctetAs: false });
          sock.destroy();
          resolve({ open: m.ok && m.message.type === 'OPEN' ? m.message : undefined, closed: false });
        });
        sock.on('close', () => resolve({ closed: true }));
        sock.on('error', reject);
      });
    expect((await dial('127.0.0.66')).open?.bgpId).toBe('127.0.0.65');
    expect(await dial('127.0.0.67')).toEqual({ closed: true });
  });

  /** Events in order: A's log lines about selection, and installs seen by each sink. */
  const recorder = (): { events: string[]; logger: Logger; sink: (who: string) => Sink } => {
    const events: string[] = [];
    const logger: Logger = pino({ level: 'info' }, {
      write(line: string): void {
        const o = JSON.parse(line) as { msg?: string; why?: string };
        if (o.msg === 'graceful restart: running route selection') events.push(`selection: ${o.why ?? ''}`);
      },
    });
    const sink = (who: string): Sink => {
      const s = new Sink();
      const on = s.onRoute.bind(s);
      s.onRoute = (ev) => {
        events.push(`${who} ${ev.type} ${ev.prefix.address}/${ev.prefix.length}`);
        on(ev);
      };
      return s;
    };
    return { events, logger, sink };
  };

  const restartPair = async (n: number, deferralTime: number, extraPeers: PeerConfig[]) => {
    const [A, B] = [`127.0.0.${n}`, `127.0.0.${n + 1}`];
    const port = await freePort(A);
    const rec = recorder();
    const cfg = { listenPort: port, families: [4 as const] };
    const b = await started(base(B, { ...cfg, listenAddresses: [B] }), [{ address: A, asNumber: AS, type: 'global', port, sourceAddress: B }], rec.sink('B'));
    b.announce([{ family: 4, address: `10.${n}.2.0`, length: 26 }]);
    const a = new Speaker(base(A, { ...cfg, listenAddresses: [A], gracefulRestart: { restarting: true, deferralTime } }), rec.sink('A'), rec.logger);
    cleanups.push(() => a.stop());
    await a.start([{ address: B, asNumber: AS, type: 'global', port, sourceAddress: A }, ...extraPeers]);
    a.announce([{ family: 4, address: `10.${n}.1.0`, length: 26 }]);
    return rec.events;
  };

  it('restarting: selection waits for End-of-RIB from every peer, then runs (before the deferral timer)', async () => {
    const events = await restartPair(71, 120, []);
    await waitFor('routes both ways', async () => (events.includes('A install 10.71.2.0/26') && events.includes('B install 10.71.1.0/26') ? true : undefined), 20_000);
    // Nothing was installed here or sent to B before selection ran, and End-of-RIB ended the wait.
    expect(events[0]).toBe('selection: End-of-RIB received from all peers');
  });

  it('restarting: a peer that stays away is covered by the deferral timer; nothing is selected or sent before it', async () => {
    // Nothing ever answers at .75: its End-of-RIB never comes.
    const events = await restartPair(73, 3, [{ address: '127.0.0.75', asNumber: AS, type: 'global', port: 1, sourceAddress: '127.0.0.73' }]);
    await waitFor('routes both ways', async () => (events.includes('A install 10.73.2.0/26') && events.includes('B install 10.73.1.0/26') ? true : undefined), 30_000);
    expect(events[0]).toBe('selection: deferral timer expired');
  });

  it('restarting on both sides: a peer whose OPEN sets R does not hold the deferral (RFC 4724 deadlock avoidance)', async () => {
    const [A, B] = ['127.0.0.76', '127.0.0.77'];
    const port = await freePort(A);
    const rec = recorder();
    // Each would wait 120 s for the other's End-of-RIB if R were not honoured.
    const cfg = { listenPort: port, families: [4 as const], gracefulRestart: { restarting: true, deferralTime: 120 } };
    const b = new Speaker(base(B, { ...cfg, listenAddresses: [B] }), rec.sink('B'), rec.logger);
    cleanups.push(() => b.stop());
    await b.start([{ address: A, asNumber: AS, type: 'global', port, sourceAddress: B }]);
    b.announce([{ family: 4, address: '10.76.2.0', length: 26 }]);
    const a = new Speaker(base(A, { ...cfg, listenAddresses: [A] }), rec.sink('A'), rec.logger);
    cleanups.push(() => a.stop());
    await a.start([{ address: B, asNumber: AS, type: 'global', port, sourceAddress: A }]);
    a.announce([{ family: 4, address: '10.76.1.0', length: 26 }]);
    await waitFor('routes both ways', async () => (rec.events.includes('A install 10.76.2.0/26') && rec.events.includes('B install 10.76.1.0/26') ? true : undefined), 20_000);
    expect(rec.events.filter((e) => e.startsWith('selection:'))).toEqual(['selection: End-of-RIB received from all peers', 'selection: End-of-RIB received from all peers']);
    expect([a.selectionDeferred, b.selectionDeferred]).toEqual([false, false]);
  });

  it('restarting: F only for the families that kept forwarding state, and once the restart is over a new connection sends neither R nor F', async () => {
    const port = await freePort('127.0.0.86');
    const fp = await FakePeer.listen('127.0.0.86', port);
    cleanups.push(() => fp.close());
    const s = await started(base('127.0.0.85', { gracefulRestart: { restartTime: 90, restarting: true, forwardingFamilies: [4], deferralTime: 1 } }), [
      { address: '127.0.0.86', asNumber: AS, type: 'global', port, sourceAddress: '127.0.0.85' },
    ]);
    const grOf = async (i: number): Promise<[number | undefined, Array<[number, boolean]> | undefined]> => {
      const gr = findCapability((await (await waitFor(`connection ${i}`, async () => fp.conns[i], 20_000)).first).capabilities, 64);
      return [gr?.restartFlags, gr?.families.map((f) => [f.afi, f.forwardingState])];
    };
    expect(await grOf(0)).toEqual([0x8 | 0x4, [[1, true], [2, false]]]);
    // The peer never answers: the deferral timer ends the restart.
    await waitFor('deferral over', async () => (s.selectionDeferred ? undefined : true), 10_000);
    fp.drop();
    expect(await grOf(1)).toEqual([0x4, [[1, false], [2, false]]]);
  });
  it('helper: a restarted peer keeps its stale routes until End-of-RIB only for families it sends with F; without F they go at once (RFC 4724 §4.2)', async () => {
    const [A, P] = ['127.0.0.94', '127.0.0.95'];
    const port = await freePort(A);
    const sink = new Sink();
    const s = await started(base(A, { listenPort: port, listenAddresses: [A], families: [4], gracefulRestart: { restartTime: 90 } }), [
      { address: P, asNumber: AS, type: 'global', passive: true },
    ], sink);
    const ctx = { fourOctetAs: false };
    // A raw GR-capable peer: OPEN (R and F as given), KEEPALIVE, then the routes.
    const session = async (restarting: boolean, forwarding: boolean, prefixes: string[]): Promise<Socket> => {
      const sock = connect({ host: A, port, localAddress: P });
      cleanups.push(async () => void sock.destroy());
      sock.on('data', () => undefined);
      await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
      const gr = { code: 64 as const, restartFlags: restarting ? 0x8 : 0, restartTime: 60, families: [{ afi: 1, safi: 1, forwardingState: forwarding }] };
      sock.write(encodeMessage(makeOpen({ asn: AS, holdTime: 0, bgpId: P, capabilities: [{ code: 1, afi: 1, safi: 1 }, gr] }), ctx));
      sock.write(encodeMessage({ type: 'KEEPALIVE' }, ctx));
      await waitFor(`${P} established`, async () => (s.peerStatus().find((p) => p.address === P)?.state === 'Established' ? true : undefined));
      const attrs: PathAttributes = { origin: 0, asPath: [], nextHop: P, localPref: 100 };
      const nlri = prefixes.map((k) => ({ family: 4 as const, address: k.split('/')[0] ?? '', length: Number(k.split('/')[1]) }));
      for (const f of packUpdates([{ attributes: attrs, prefixes: nlri }], [], { fourOctetAs: true, ebgp: false })) sock.write(f);
      return sock;
    };
    const restartWith = async (forwarding: boolean): Promise<Socket> => {
      (await session(false, false, ['10.95.1.0/24'])).destroy(); // TCP failure: the route stays, stale
      await waitFor('stale', async () => (s.routes().some((r) => r.prefix === '10.95.1.0/24' && r.stale) ? true : undefined));
      return session(true, forwarding, []);
    };
    // F set: the stale route is still installed after the new session is up, and goes at End-of-RIB.
    const kept = await restartWith(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.installed.has('10.95.1.0/24')).toBe(true);
    kept.write(encodeMessage(endOfRib(1, 1), ctx));
    await waitFor('stale route gone at End-of-RIB', async () => (sink.installed.has('10.95.1.0/24') ? undefined : true));
    kept.destroy();
    await waitFor('peer down', async () => (s.peerStatus().find((p) => p.address === P)?.state === 'Established' ? undefined : true));
    // F clear: forwarding state was lost in the restart, so the stale route goes without End-of-RIB.
    await restartWith(false);
    await waitFor('stale route gone at once', async () => (sink.installed.has('10.95.1.0/24') ? undefined : true), 5_000);
  });
  it('MRAI: churn inside the interval reaches the peer as one change per prefix; without it every change goes out', async () => {
    const churn = async (n: number, mraiMs: number): Promise<string[]> => {
      const [A, B] = [`127.0.0.${n}`, `127.0.0.${n + 1}`];
      const port = await freePort(A);
      const seen: string[] = [];
      const sb = new Sink();
      const on = sb.onRoute.bind(sb);
      sb.onRoute = (ev) => {
        seen.push(ev.type);
        on(ev);
      };
      const cfg = { listenPort: port, families: [4 as const] };
      const a = await started(base(A, { ...cfg, listenAddresses: [A], mraiMs }), [{ address: B, asNumber: AS, type: 'global', port, sourceAddress: A }]);
      await started(base(B, { ...cfg, listenAddresses: [B] }), [{ address: A, asNumber: AS, type: 'global', port, sourceAddress: B }], sb);
      await waitFor('session', async () => (a.peerStatus()[0]?.state === 'Established' ? true : undefined));
      const x = { family: 4 as const, address: `10.${n}.0.0`, length: 24 };
      a.announce([x]);
      await waitFor('first announcement', async () => sb.installed.get(`10.${n}.0.0/24`));
      // Ten flaps, each on its own event-loop turn, ending withdrawn then announced again.
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) a.withdraw([x]);
        else a.announce([x]);
        await new Promise((r) => setTimeout(r, 30));
      }
      a.announce([x]);
      await waitFor('settled', async () => (sb.installed.has(`10.${n}.0.0/24`) && a.peerStatus()[0]?.prefixesAdvertised === 1 ? true : undefined), 30_000);
      await new Promise((r) => setTimeout(r, mraiMs + 200));
      return seen;
    };
    const without = await churn(81, 0);
    const withMrai = await churn(83, 5000);
    // Without an interval the peer saw the flaps; with one, the first announcement and at most one batch.
    expect(without.length).toBeGreaterThan(4);
    expect(withMrai.length).toBeLessThanOrEqual(3);
    expect(withMrai[0]).toBe('install');
  });
  it('import loop checks: our AS in an eBGP AS_PATH, our router id as ORIGINATOR_ID, our cluster id in CLUSTER_LIST are dropped', async () => {
    const port = await freePort('127.0.0.91');
    const sink = new Sink();
    const s = await started(base('127.0.0.91', { listenPort: port, listenAddresses: ['127.0.0.91'], families: [4], clusterId: '9.9.9.9' }), [
      { address: '127.0.0.92', asNumber: 65092, type: 'global', passive: true },
      { address: '127.0.0.93', asNumber: AS, type: 'global', passive: true },
    ], sink);
    // A raw peer: OPEN + KEEPALIVE, then the given UPDATEs (4-octet AS session, no hold time).
    const rawPeer = async (from: string, asn: number, routes: Array<{ prefix: string; attrs: PathAttributes }>): Promise<Socket> => {
      const sock = connect({ host: '127.0.0.91', port, localAddress: from });
      cleanups.push(async () => void sock.destroy());
      sock.on('data', () => undefined);
      await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
      sock.write(encodeMessage(makeOpen({ asn, holdTime: 0, bgpId: from, capabilities: [{ code: 1, afi: 1, safi: 1 }] }), { fourOctetAs: false }));
      sock.write(encodeMessage({ type: 'KEEPALIVE' }, { fourOctetAs: false }));
      await waitFor(`${from} established`, async () => (s.peerStatus().find((p) => p.address === from)?.state === 'Established' ? true : undefined));
      for (const r of routes) {
        const [address, len] = r.prefix.split('/');
        for (const f of packUpdates([{ attributes: r.attrs, prefixes: [{ family: 4, address, length: Number(len) }] }], [], { fourOctetAs: true, ebgp: asn !== AS })) sock.write(f);
      }
      return sock;
    };
    const seg = (...asns: number[]) => [{ type: 2 as const, asns }];
    await rawPeer('127.0.0.92', 65092, [
      { prefix: '10.92.1.0/24', attrs: { origin: 0, asPath: seg(65092, AS, 65100), nextHop: '127.0.0.92' } },
      { prefix: '10.92.2.0/24', attrs: { origin: 0, asPath: seg(65092), nextHop: '127.0.0.92' } },
    ]);
    await rawPeer('127.0.0.93', AS, [
      { prefix: '10.93.1.0/24', attrs: { origin: 0, asPath: [], nextHop: '127.0.0.93', localPref: 100, originatorId: '127.0.0.91' } },
      { prefix: '10.93.2.0/24', attrs: { origin: 0, asPath: [], nextHop: '127.0.0.93', localPref: 100, originatorId: '127.0.0.50', clusterList: ['1.2.3.4', '9.9.9.9'] } },
      { prefix: '10.93.3.0/24', attrs: { origin: 0, asPath: [], nextHop: '127.0.0.93', localPref: 100, originatorId: '127.0.0.50', clusterList: ['1.2.3.4'] } },
    ]);
    await waitFor('clean routes installed', async () => (sink.installed.has('10.92.2.0/24') && sink.installed.has('10.93.3.0/24') ? true : undefined));
    await waitFor('all UPDATEs counted', async () => (s.peerStatus().reduce((n, p) => n + p.prefixesReceived, 0) === 5 ? true : undefined));
    expect([...sink.installed.keys()].sort()).toEqual(['10.92.2.0/24', '10.93.3.0/24']);
    const st = (a: string) => s.peerStatus().find((p) => p.address === a);
    expect(st('127.0.0.92')).toMatchObject({ prefixesReceived: 2, prefixesAccepted: 1 });
    expect(st('127.0.0.93')).toMatchObject({ prefixesReceived: 3, prefixesAccepted: 1 });
  });
});
