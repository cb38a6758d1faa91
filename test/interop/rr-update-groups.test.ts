// Update groups and per-socket back-pressure on loopback: a reflector with three speaker clients
// and one raw-socket client that completes the handshake, keeps sending KEEPALIVEs and then stops
// reading. The reflector encodes each batch once for the group and writes the same Buffers to
// every member; the stalled client is taken out of its group when its queue passes the limit
// (so the others still converge, and its queue stays bounded), and once it reads again it is
// re-synced from the Loc-RIB to exactly the current table.
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, makeOpen, MessageFramer, negotiateContext, type CodecContext, type OpenMessage } from '../../bgp/codec/index.js';
import { Speaker, type PeerConfig, type SpeakerConfig } from '../../bgp/speaker.js';
import type { PathAttributes, RouteSinkEvent } from '../../bgp/types.js';
import { waitFor } from '../harness/daemon.js';
import { freePort } from '../harness/ports.js';

const AS = 64512;
const log = pino({ level: process.env.TORTIE_TEST_LOG ?? 'silent' });
const LIMIT = 64 * 1024;
const N = 4000;
const prefixOf = (i: number): string => `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
// Twenty communities and a MED per prefix and round: ~130 bytes on the wire per route.
const COMMUNITIES = Array.from({ length: 20 }, (_, i) => AS * 65536 + i);
const medOf = (round: number, i: number): number => round * 100_000 + i;

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
  private readonly framer = new MessageFramer();
  private keepalive?: NodeJS.Timeout;

  async connect(host: string, port: number, local: string): Promise<void> {
    const open: OpenMessage = makeOpen({ asn: AS, holdTime: 240, bgpId: local, capabilities: [{ code: 1, afi: 1, safi: 1 }] });
    this.socket = connect({ host, port, localAddress: local });
    this.socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        const r = decodeMessage(f, this.ctx);
        if (!r.ok) throw new Error(`raw client: bad message from the reflector: ${JSON.stringify(r)}`);
        const m = r.message;
        if (m.type === 'OPEN') {
          this.ctx = negotiateContext(open, m);
          this.socket.write(encodeMessage({ type: 'KEEPALIVE' }, this.ctx));
        } else if (m.type === 'KEEPALIVE') this.established = true;
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

  stall(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.socket?.destroy();
  }
}

describe('update groups and back-pressure', () => {
  const A = '127.0.0.41';
  const B = '127.0.0.42';
  const C = '127.0.0.43';
  const D = '127.0.0.44';
  const S = '127.0.0.45';
  let port: number;
  const sinks = { b: new Sink(), c: new Sink(), d: new Sink() };
  let a: Speaker;
  let b: Speaker;
  let c: Speaker;
  let d: Speaker;
  const raw = new RawClient();
  const cfg = (routerId: string): SpeakerConfig => ({ asNumber: AS, routerId, listenPort: port, listenAddresses: [routerId], holdTime: 30, connectRetryTime: 0.5, connectRetryMax: 1, errorWait: [0.5, 1], families: [4] });
  const peer = (address: string, over: Partial<PeerConfig> = {}): PeerConfig => ({ address, asNumber: AS, type: 'node', port, ...over });
  let round = 0;

  const announceRound = (r: number): void => {
    for (let i = 0; i < N; i++) b.announce([{ family: 4, address: prefixOf(i), length: 32 }], { med: medOf(r, i), communities: COMMUNITIES });
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
    ]);
    for (const s of [b, c, d]) await s.start([peer(A, { sourceAddress: s.config.routerId })]);
    await raw.connect(A, port, S);
    await waitFor('sessions up', async () => (a.peerStatus().every((p) => p.state === 'Established') ? true : undefined), 20_000);
  });

  afterAll(async () => {
    raw.close();
    await Promise.all([a?.stop(), b?.stop(), c?.stop(), d?.stop()]);
  });

  it('clients of one policy form one group; a batch is encoded once and written to each member', async () => {
    await waitFor('all grouped', async () => ([B, C, D, S].every((x) => a.outQueue(x)?.mode === 'grouped') ? true : undefined), 10_000);
    expect(a.outQueue(C)?.groupMembers).toBe(4);
    const before = { ...a.outStats };
    round = 1;
    announceRound(round);
    await waitFor('round 1 at C and D', async () => (converged(sinks.c, 1) && converged(sinks.d, 1) ? true : undefined), 60_000);
    await waitFor('raw client has round 1', async () => (raw.rib.size === N ? true : undefined), 30_000);
    const batches = a.outStats.groupBatches - before.groupBatches;
    const writes = a.outStats.groupWrites - before.groupWrites;
    expect(batches).toBeGreaterThan(0);
    // Every batch went to all four members from one encoding.
    expect(writes).toBe(batches * 4);
    // B's own routes are not sent back to it (they would carry its router id as ORIGINATOR_ID).
    expect(sinks.b.installed.size).toBe(0);
  });

  it('a client that stops reading leaves the group; the others converge; its queue stays bounded', async () => {
    raw.stall();
    let maxQueued = 0;
    const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, a.outQueue(S)?.queuedBytes ?? 0)), 20);
    try {
      while (a.outQueue(S)?.mode === 'grouped' && round < 12) {
        round++;
        announceRound(round);
        const r = round;
        await waitFor(`round ${r} at C and D`, async () => (converged(sinks.c, r) && converged(sinks.d, r) ? true : undefined), 60_000);
      }
      expect(a.outQueue(S)?.mode).toBe('stalled');
      expect(a.outStats.stalls).toBeGreaterThan(0);
      // Two more rounds while it is stalled: the others are not held back.
      for (let k = 0; k < 2; k++) {
        round++;
        announceRound(round);
        const r = round;
        await waitFor(`round ${r} at C and D`, async () => (converged(sinks.c, r) && converged(sinks.d, r) ? true : undefined), 60_000);
      }
      expect(a.outQueue(S)?.mode).toBe('stalled');
      expect(a.outQueue(C)?.mode).toBe('grouped');
      // The limit plus at most one batch (4000 routes of ~130 bytes).
      expect(maxQueued).toBeLessThanOrEqual(LIMIT + 4000 * 200);
      expect(a.outQueue(S)?.pending).toBeLessThanOrEqual(N);
    } finally {
      clearInterval(sampler);
    }
  });

  it('once it reads again it is re-synced to exactly the current table and rejoins its group', async () => {
    raw.resume();
    const want = round;
    await waitFor('raw client holds the current table', async () => {
      if (raw.rib.size !== N) return undefined;
      for (let i = 0; i < N; i++) if (raw.rib.get(`${prefixOf(i)}/32`) !== medOf(want, i)) return undefined;
      return true;
    }, 60_000, 200);
    await waitFor('rejoined', async () => (a.outQueue(S)?.mode === 'grouped' ? true : undefined), 10_000);
    expect(a.outStats.resyncs).toBeGreaterThan(0);
    expect(a.peerStatus().every((p) => p.state === 'Established')).toBe(true);
    // And a withdraw of everything reaches every client, the re-synced one included.
    b.withdraw(Array.from({ length: N }, (_, i) => ({ family: 4 as const, address: prefixOf(i), length: 32 })));
    await waitFor('all withdrawn', async () => (sinks.c.installed.size === 0 && sinks.d.installed.size === 0 && raw.rib.size === 0 ? true : undefined), 60_000);
  });
});
