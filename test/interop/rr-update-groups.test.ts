// Update groups and per-socket back-pressure on loopback: a reflector with three speaker clients,
// one raw-socket client that reads everything (S) and one that stops reading right after its
// handshake (T) while it keeps sending KEEPALIVEs. The reflector encodes each batch once for the
// group and writes the same Buffers to every member; T is taken out of its group when its queue
// passes the limit (so the others still converge, and its queue stays bounded), and once it reads
// again it is re-synced from the Loc-RIB to exactly the current table.
//
// The stall is forced, not waited for: T never reads, so its receive buffer never grows past its
// initial size (tcp_rmem[1]: autotuning follows what the application reads), and the reflector's
// send buffer is bounded by tcp_wmem[2]. Everything written beyond that, and beyond the limit,
// queues in the reflector's Node: the stall rounds (large routes: an opaque attribute the
// reflector passes on) send a fixed number of rounds computed from those bounds, and T must be
// stalled after them.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, makeOpen, MessageFramer, negotiateContext, type CodecContext, type OpenMessage } from '../../bgp/codec/index.js';
import { Speaker, type PeerConfig, type SpeakerConfig } from '../../bgp/speaker/index.js';
import type { PathAttributes, RawAttribute, RouteSinkEvent } from '../../bgp/types.js';
import { waitFor } from '../harness/daemon.js';
import { freePort } from '../harness/ports.js';

const AS = 64512;
const log = pino({ level: process.env.TORTIE_TEST_LOG ?? 'silent' });
const LIMIT = 64 * 1024;
const N = 4000;
const prefixOf = (i: number): string => `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
// Twenty communities and a MED per prefix and round: ~130 bytes on the wire per route.
const COMMUNITIES = Array.from({ length: 20 }, (_, i) => AS * 65536 + i);
// The stall rounds add an optional transitive attribute the reflector passes on unread: ~3.9 KB
// on the wire per route (one UPDATE still fits 4096 bytes), ~15.6 MB per round for little CPU.
const BULK: RawAttribute[] = [{ flags: 0xc0, type: 250, value: Buffer.alloc(3800, 0xab) }];
const medOf = (round: number, i: number): number => round * 100_000 + i;

/** One value of a tcp_rmem/tcp_wmem triple (1: the initial size, 2: the autotuning ceiling), or `fallback`. */
const sysctl = (name: string, index: 1 | 2, fallback: number): number => {
  try {
    const v = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[index]);
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
};

/**
 * Wire bytes of one reflected route as one UPDATE (each route has its own MED, so none share
 * one): `extra` 0 gives a lower bound (the attributes we set), 64 an upper one (the reflector
 * adds LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST: 7 + 7 + 7 bytes, with room to spare).
 */
const routeWireBytes = (unknown: RawAttribute[], extra: number): number =>
  encodeMessage({ type: 'UPDATE', withdrawn: [], attributes: { origin: 0, asPath: [], nextHop: '127.0.0.42', med: medOf(99, N), communities: COMMUNITIES, unknown }, nlri: [{ family: 4, address: prefixOf(N), length: 32 }] }, { fourOctetAs: true }).length + extra;

class Sink {
  installed = new Map<string, PathAttributes>();
  onRoute(ev: RouteSinkEvent): void {
    const k = `${ev.prefix.address}/${ev.prefix.length}`;
    if (ev.type === 'install') this.installed.set(k, ev.attrs);
    else this.installed.delete(k);
  }
}

/** A BGP client that never reads once `stall()` is called (but keeps its session alive). */
class RawClient {
  socket!: Socket;
  ctx: CodecContext = { fourOctetAs: false };
  rib = new Map<string, number | undefined>();
  established = false;
  /** A socket error or a message we could not decode: checked by the tests, never thrown from an event. */
  error?: string;
  private readonly framer = new MessageFramer();
  private keepalive?: NodeJS.Timeout;

  /** @param reads false: stop reading as soon as the session is up (a client that never reads). */
  async connect(host: string, port: number, local: string, reads = true): Promise<void> {
    // ADD-PATH receive, as the speaker clients offer it: the reflector sends every path to all of
    // them, so they share one update group (a client without it would be in a group of its own).
    const open: OpenMessage = makeOpen({ asn: AS, holdTime: 240, bgpId: local, capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 69, families: [{ afi: 1, safi: 1, sendReceive: 1 }] }] });
    this.socket = connect({ host, port, localAddress: local });
    this.socket.on('error', (err) => (this.error ??= `raw client socket: ${err.message}`));
    this.socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        const r = decodeMessage(f, this.ctx);
        if (!r.ok) {
          this.error ??= `raw client: bad message from the reflector: ${JSON.stringify(r)}`;
          continue;
        }
        const m = r.message;
        if (m.type === 'OPEN') {
          this.ctx = negotiateContext(open, m);
          this.socket.write(encodeMessage({ type: 'KEEPALIVE' }, this.ctx));
        } else if (m.type === 'KEEPALIVE') {
          if (!this.established && !reads) this.stall();
          this.established = true;
        }
        else if (m.type === 'UPDATE') {
          for (const w of m.withdrawn) this.rib.delete(`${w.address}/${w.length}`);
          for (const n of m.nlri) this.rib.set(`${n.address}/${n.length}`, m.attributes?.med);
        }
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.write(encodeMessage(open, this.ctx));
    await waitFor('raw client established', async () => (this.established ? true : undefined), 10_000);
    // Our hold timer is the reflector's business: keep it fed even while we do not read.
    this.keepalive = setInterval(() => this.socket.write(encodeMessage({ type: 'KEEPALIVE' }, this.ctx)), 5000);
  }

  /**
   * Stops reading: Node fills at most its readable buffer (readableHighWaterMark) and then stops
   * reading the socket, so the kernel's buffers fill and the reflector's writes queue in its Node.
   */
  private stall(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    (this.socket as Socket | undefined)?.destroy();
  }
}

describe('update groups and back-pressure', () => {
  const A = '127.0.0.41';
  const B = '127.0.0.42';
  const C = '127.0.0.43';
  const D = '127.0.0.44';
  const S = '127.0.0.45';
  const T = '127.0.0.46';
  let port: number;
  const sinks = { b: new Sink(), c: new Sink(), d: new Sink() };
  let a: Speaker;
  let b: Speaker;
  let c: Speaker;
  let d: Speaker;
  const raw = new RawClient();
  const stuck = new RawClient();
  const cfg = (routerId: string): SpeakerConfig => ({ asNumber: AS, routerId, listenPort: port, listenAddresses: [routerId], holdTime: 30, connectRetryTime: 0.5, connectRetryMax: 1, errorWait: [0.5, 1], families: [4] });
  const peer = (address: string, over: Partial<PeerConfig> = {}): PeerConfig => ({ address, asNumber: AS, type: 'node', port, ...over });
  let round = 0;

  const announceRound = (r: number, unknown: RawAttribute[] = []): void => {
    for (let i = 0; i < N; i++) b.announce([{ family: 4, address: prefixOf(i), length: 32 }], { med: medOf(r, i), communities: COMMUNITIES, ...(unknown.length ? { unknown } : {}) });
  };
  const convergedAtCD = async (r: number): Promise<void> => {
    await waitFor(`round ${r} at C and D`, async () => (converged(sinks.c, r) && converged(sinks.d, r) ? true : undefined), 60_000, 50);
  };
  const converged = (sink: Sink, r: number): boolean => sink.installed.size === N && [0, N >> 1, N - 1].every((i) => sink.installed.get(`${prefixOf(i)}/32`)?.med === medOf(r, i));

  beforeAll(async () => {
    port = await freePort(A);
    a = new Speaker({ ...cfg(A), clusterId: '1.1.1.1', maxQueuedBytes: LIMIT }, { onRoute: () => undefined }, log);
    b = new Speaker(cfg(B), sinks.b, log);
    c = new Speaker(cfg(C), sinks.c, log);
    d = new Speaker(cfg(D), sinks.d, log);
    await a.start([
      peer(B, { rrClient: true, sourceAddress: A }),
      peer(C, { rrClient: true, sourceAddress: A }),
      peer(D, { rrClient: true, sourceAddress: A }),
      peer(S, { rrClient: true, passive: true, holdTime: 240 }),
      peer(T, { rrClient: true, passive: true, holdTime: 240 }),
    ]);
    for (const s of [b, c, d]) await s.start([peer(A, { sourceAddress: s.config.routerId })]);
    await raw.connect(A, port, S);
    await waitFor('sessions up', async () => (a.peerStatus().every((p) => p.address === T || p.state === 'Established') ? true : undefined), 20_000);
  });

  // Runs even when beforeAll or a test failed half-way: whatever was created is stopped.
  afterAll(async () => {
    raw.close();
    stuck.close();
    const stops = await Promise.allSettled([a, b, c, d].filter((s): s is Speaker => s !== undefined).map((s) => s.stop()));
    for (const r of stops) if (r.status === 'rejected') throw r.reason;
  });

  it('clients of one policy form one group; a batch is encoded once and written to each member', async () => {
    await waitFor('all grouped', async () => ([B, C, D, S].every((x) => a.outQueue(x)?.mode === 'grouped') ? true : undefined), 10_000);
    expect(a.outQueue(C)?.groupMembers).toBe(4);
    const before = { ...a.outStats };
    round = 1;
    announceRound(round);
    await convergedAtCD(1);
    await waitFor('raw client has round 1', async () => (raw.rib.size === N ? true : undefined), 30_000);
    const batches = a.outStats.groupBatches - before.groupBatches;
    const writes = a.outStats.groupWrites - before.groupWrites;
    expect(batches).toBeGreaterThan(0);
    // Every batch went to all four members from one encoding.
    expect(writes).toBe(batches * 4);
    // B's own routes are not sent back to it (they would carry its router id as ORIGINATOR_ID).
    expect(sinks.b.installed.size).toBe(0);
  });

  it('a client that never reads leaves the group; the others converge; its queue stays bounded', async () => {
    await stuck.connect(A, port, T, false);
    // Its initial table fits the kernel's buffers: it joins the group like the others.
    await waitFor('T grouped', async () => (a.outQueue(T)?.mode === 'grouped' ? true : undefined), 10_000);
    expect(a.outQueue(C)?.groupMembers).toBe(5);
    // What the kernel can hold for T before the reflector's Node queue grows: T's receive buffer
    // (never autotuned: it does not read; a margin for the little Node read before pausing) and
    // the reflector's send buffer. Past that plus the limit the queue is over the limit, and the
    // next batch (the next round at the latest) finds it so.
    const absorb = sysctl('tcp_rmem', 1, 128 << 10) + (1 << 20) + sysctl('tcp_wmem', 2, 4 << 20);
    const roundBytes = N * routeWireBytes(BULK, 0);
    const rounds = Math.ceil((absorb + LIMIT) / roundBytes) + 1;
    let maxQueued = 0;
    const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, a.outQueue(T)?.queuedBytes ?? 0)), 20);
    try {
      for (let k = 0; k < rounds; k++) {
        round++;
        announceRound(round, BULK);
        // The reflector decides for every member of the group as it writes a batch, so by the
        // time C and D hold this round the decision for T has been made.
        await convergedAtCD(round);
      }
      expect(a.outQueue(T)?.mode, `not stalled after ${rounds} rounds of ${roundBytes} bytes (kernel bound ${absorb})`).toBe('stalled');
      // Until the kernel's buffers are full a stalled T may drain into them and rejoin, on a busy
      // machine more than once: each of T's stalls but the current one ended in exactly one
      // re-sync. (T's own counts: under load a reading client may stall for a moment too.)
      const t = a.outQueue(T);
      expect(t?.stalls).toBeGreaterThanOrEqual(1);
      expect(t?.resyncs).toBe((t?.stalls ?? 0) - 1);
      // Two more rounds while it is stalled: the others are not held back.
      for (let k = 0; k < 2; k++) {
        round++;
        announceRound(round);
        await convergedAtCD(round);
      }
      expect(a.outQueue(T)?.mode).toBe('stalled');
      // The readers are in their group (one that fell behind for a moment under load is back in it soon).
      await waitFor('C and S grouped', async () => (a.outQueue(C)?.mode === 'grouped' && a.outQueue(S)?.mode === 'grouped' ? true : undefined), 30_000);
      // The limit plus at most one batch (at most N routes).
      expect(maxQueued).toBeGreaterThan(LIMIT);
      expect(maxQueued).toBeLessThanOrEqual(LIMIT + N * routeWireBytes(BULK, 64));
      expect(a.outQueue(T)?.queuedBytes).toBeLessThanOrEqual(LIMIT + N * routeWireBytes(BULK, 64));
      expect(a.outQueue(T)?.pending).toBeLessThanOrEqual(N);
      expect(stuck.error).toBeUndefined();
    } finally {
      clearInterval(sampler);
    }
  }, 360_000);

  it('once it reads again it is re-synced to exactly the current table and rejoins its group', async () => {
    stuck.resume();
    const want = round;
    await waitFor('raw client holds the current table', async () => {
      if (stuck.rib.size !== N) return undefined;
      for (let i = 0; i < N; i++) if (stuck.rib.get(`${prefixOf(i)}/32`) !== medOf(want, i)) return undefined;
      return true;
    }, 60_000, 200);
    await waitFor('rejoined', async () => (a.outQueue(T)?.mode === 'grouped' ? true : undefined), 10_000);
    expect(a.outQueue(T)?.resyncs).toBe(a.outQueue(T)?.stalls);
    expect(stuck.error).toBeUndefined();
    expect(raw.error).toBeUndefined();
    expect(a.peerStatus().every((p) => p.state === 'Established')).toBe(true);
    // And a withdraw of everything reaches every client, the re-synced one included.
    b.withdraw(Array.from({ length: N }, (_, i) => ({ family: 4 as const, address: prefixOf(i), length: 32 })));
    await waitFor('all withdrawn', async () => (sinks.c.installed.size === 0 && sinks.d.installed.size === 0 && raw.rib.size === 0 && stuck.rib.size === 0 ? true : undefined), 60_000);
  });
});
