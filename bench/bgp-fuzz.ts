// Ten million fuzzed BGP messages — mutated BIRD/GoBGP captures and random frames — through the
// decoder and through a live session with the speaker, counting what RFC 4271 / RFC 7606 say
// should happen against what did. Not a test (it runs for minutes); the codec fuzz test runs the
// same generators 20,000 times in `make test`.
//
//   npx tsx bench/bgp-fuzz.ts [--decoder 10000000] [--session 10000000] [--batch 1000] [--seed N]
//   (from the checkout: the captured BIRD/GoBGP frames it mutates live in test/fixtures/bgp)
//
// Decoder: every frame decoded under one of four session shapes; no exception, no internal
// error, the NOTIFICATION code the RFCs give, treat-as-withdraw leaving no announcement, and
// every accepted message round-tripping (bgp/codec/testing/fuzz.ts is the oracle).
// Live session: a raw peer on loopback opens an iBGP session with a Speaker, sends a batch of
// frames the decoder accepts (UPDATEs, some treat-as-withdraw or with attributes discarded,
// and ROUTE-REFRESHes) and then one frame it rejects. The session must survive the batch and end
// with exactly the NOTIFICATION the rejected frame deserves; the peer then reconnects. At the
// end a clean session must still establish, and nothing may have thrown.
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { MessageFramer, decodeMessage, encodeMessage, makeOpen, negotiateContext, type CodecContext, type OpenMessage } from '../bgp/codec/index.js';
import { FUZZ_CONTEXTS, checkFrame, corpus, nextFrame, prng } from '../bgp/codec/testing/fuzz.js';
import { Speaker } from '../bgp/speaker/index.js';
import type { RouteSinkEvent } from '../bgp/types.js';
import { freePort } from '../test/harness/ports.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a number, got ${args[i + 1]}`);
  return v;
};
const DECODER = arg('decoder', 10_000_000);
const SESSION = arg('session', 10_000_000);
const BATCH = Math.max(1, arg('batch', 1000));
const SEED = arg('seed', 0x7081e);
const PROGRESS_EVERY = 1_000_000;

let uncaught = 0;
process.on('uncaughtException', (e) => {
  uncaught++;
  console.error('uncaught exception:', e);
});
process.on('unhandledRejection', (e) => {
  uncaught++;
  console.error('unhandled rejection:', e);
});

const problems: string[] = [];
const problem = (p: string): void => {
  if (problems.length < 20) console.error(`PROBLEM: ${p}`);
  problems.push(p);
};
const mps = (n: number, ms: number): string => `${Math.round(n / (ms / 1000)).toLocaleString('en')} msg/s`;

function runDecoder(seeds: Buffer[]): void {
  const rnd = prng(SEED);
  let accepted = 0;
  const t0 = Date.now();
  for (let i = 0; i < DECODER; i++) {
    const r = checkFrame(nextFrame(seeds, rnd), FUZZ_CONTEXTS[i % FUZZ_CONTEXTS.length]);
    if (r.problem) problem(r.problem);
    if (r.accepted) accepted++;
    if ((i + 1) % PROGRESS_EVERY === 0) console.log(`  decoder: ${(i + 1).toLocaleString('en')} / ${DECODER.toLocaleString('en')} (${mps(i + 1, Date.now() - t0)})`);
  }
  const ms = Date.now() - t0;
  console.log(`decoder: ${DECODER.toLocaleString('en')} frames, ${accepted.toLocaleString('en')} accepted, ${(DECODER - accepted).toLocaleString('en')} rejected with the RFC's code, ${mps(DECODER, ms)}`);
}

const SPEAKER = '127.0.0.1';
const PEER = '127.0.0.2';
const AS = 64512;

class Counter {
  installs = 0;
  onRoute(ev: RouteSinkEvent): void {
    if (ev.type === 'install') this.installs++;
  }
}

/** One raw connection to the speaker: handshake, then frames in, NOTIFICATION and close out. */
class RawPeer {
  private readonly framer = new MessageFramer();
  private readonly sock: Socket;
  private ctx: CodecContext = { fourOctetAs: false };
  private readonly ours: OpenMessage = makeOpen({
    asn: AS,
    holdTime: 0,
    bgpId: PEER,
    capabilities: [
      { code: 1, afi: 1, safi: 1 },
      { code: 1, afi: 2, safi: 1 },
      { code: 2 },
    ],
  });
  notification?: { code: number; subcode: number };
  private established!: Promise<CodecContext>;
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.sock = connect({ host: SPEAKER, port, localAddress: PEER });
    this.sock.setNoDelay(true);
    this.closed = new Promise((r) => this.sock.once('close', () => r()));
    this.sock.on('error', () => undefined);
    this.established = new Promise((resolve, reject) => {
      this.sock.once('close', () => reject(new Error('closed before Established')));
      this.sock.on('data', (chunk: Buffer) => {
        for (const frame of this.framer.push(chunk)) {
          const m = decodeMessage(frame, this.ctx);
          if (!m.ok) continue;
          if (m.message.type === 'OPEN') {
            this.ctx = negotiateContext(this.ours, m.message);
            this.sock.write(encodeMessage({ type: 'KEEPALIVE' }, this.ctx));
          } else if (m.message.type === 'KEEPALIVE') resolve(this.ctx);
          else if (m.message.type === 'NOTIFICATION') this.notification = { code: m.message.code, subcode: m.message.subcode };
        }
      });
    });
    this.established.catch(() => undefined);
    this.sock.once('connect', () => this.sock.write(encodeMessage(this.ours, { fourOctetAs: false })));
  }

  open(): Promise<CodecContext> {
    return this.established;
  }

  write(frames: Buffer[]): void {
    this.sock.write(Buffer.concat(frames));
  }

  destroy(): void {
    this.sock.destroy();
  }
}

async function establish(port: number): Promise<{ peer: RawPeer; ctx: CodecContext }> {
  for (let attempt = 0; ; attempt++) {
    const peer = new RawPeer(port);
    try {
      return { peer, ctx: await peer.open() };
    } catch (e) {
      peer.destroy();
      // The speaker holds the peer in Idle for its error-wait after each reset: retry.
      if (attempt > 2000) throw new Error(`no session after ${attempt} attempts: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/**
 * On a TCP stream the header's length is where the next message starts, so a frame whose length
 * field disagrees with its size cannot end a batch: the speaker would wait for bytes that never
 * come. Such frames are still fed to the decoder phase.
 */
const truthfulLength = (f: Buffer): boolean => f.length >= 18 && f.readUInt16BE(16) === f.length;

/** Which frame of a batch ended the session: replayed one at a time on a fresh session. */
async function culprit(port: number, batch: Buffer[]): Promise<string> {
  const { peer } = await establish(port);
  let closed = false;
  void peer.closed.then(() => (closed = true));
  for (const f of batch) {
    peer.write([f]);
    await new Promise((r) => setTimeout(r, 20));
    if (closed) return `${f.toString('hex')} (NOTIFICATION ${peer.notification?.code}/${peer.notification?.subcode})`;
  }
  peer.destroy();
  return 'none alone (the batch only fails as a whole)';
}

/** Frames the session can take in Established: UPDATE and ROUTE-REFRESH (an OPEN or NOTIFICATION ends it by design). */
const sessionType = (f: Buffer): boolean => f.length >= 19 && (f[18] === 2 || f[18] === 5);

async function runSession(seeds: Buffer[]): Promise<void> {
  const port = await freePort(SPEAKER);
  const sink = new Counter();
  const speaker = new Speaker(
    { asNumber: AS, routerId: SPEAKER, listenPort: port, listenAddresses: [SPEAKER], holdTime: 0, errorWait: [0.001, 0.002], connectRetryTime: 0.01, connectRetryMax: 0.02 },
    sink,
    pino({ level: 'silent' }),
  );
  await speaker.start([{ address: PEER, asNumber: AS, type: 'global', passive: true }]);
  const rnd = prng(SEED ^ 0x5e55);
  let sent = 0;
  let batches = 0;
  let acceptedSent = 0;
  const t0 = Date.now();
  let nextProgress = PROGRESS_EVERY;
  try {
    while (sent < SESSION) {
      const { peer, ctx } = await establish(port);
      const batch: Buffer[] = [];
      let last: { frame: Buffer; code: number; subcode: number } | undefined;
      while (!last) {
        const f = nextFrame(seeds, rnd);
        const r = decodeMessage(f, ctx);
        if (r.ok) {
          if (batch.length < BATCH && sessionType(f)) batch.push(f);
        } else if (truthfulLength(f) && (batch.length >= BATCH || sent + batch.length + 1 >= SESSION)) {
          last = { frame: f, code: r.notification.code, subcode: r.notification.subcode };
        }
      }
      peer.write([...batch, last.frame]);
      await peer.closed;
      batches++;
      acceptedSent += batch.length;
      sent += batch.length + 1;
      const n = peer.notification;
      if (!n) problem(`batch ${batches}: the session closed without a NOTIFICATION (expected ${last.code}/${last.subcode} for ${last.frame.toString('hex')})`);
      else if (n.code !== last.code || n.subcode !== last.subcode) {
        problem(`batch ${batches}: NOTIFICATION ${n.code}/${n.subcode}, expected ${last.code}/${last.subcode} for the batch's last frame; the frame that ended it: ${await culprit(port, batch)}`);
      }
      if (sent >= nextProgress) {
        console.log(`  session: ${sent.toLocaleString('en')} / ${SESSION.toLocaleString('en')} (${mps(sent, Date.now() - t0)}, ${batches} sessions)`);
        nextProgress += PROGRESS_EVERY;
      }
    }
    // Still serving: a clean session establishes after everything.
    const { peer } = await establish(port);
    peer.destroy();
  } finally {
    await speaker.stop();
  }
  const ms = Date.now() - t0;
  console.log(
    `session: ${sent.toLocaleString('en')} frames in ${batches.toLocaleString('en')} sessions (${acceptedSent.toLocaleString('en')} accepted, ` +
      `${batches.toLocaleString('en')} rejected, each ended with the expected NOTIFICATION), ${sink.installs.toLocaleString('en')} routes installed on the way, ${mps(sent, ms)}`,
  );
}

async function main(): Promise<void> {
  const seeds = corpus(SEED);
  console.log(`bgp-fuzz: seed ${SEED}, ${seeds.length} seed frames; decoder ${DECODER.toLocaleString('en')}, live session ${SESSION.toLocaleString('en')} (batches of ${BATCH})`);
  if (DECODER > 0) runDecoder(seeds);
  if (SESSION > 0) await runSession(seeds);
  console.log(`uncaught exceptions: ${uncaught}; problems: ${problems.length}`);
  process.exitCode = uncaught || problems.length ? 1 : 0;
}

await main();
