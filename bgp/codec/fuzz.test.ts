// Fuzz: random and mutated messages through decodeMessage. Asserts no exception escapes, no
// internal error is reported, every NOTIFICATION has the code the RFCs give for what is wrong
// (header → 1, OPEN → 2, UPDATE → 3, ROUTE-REFRESH → 7), and every accepted message re-encodes
// and decodes back to itself.
//
// Count: TORTIE_FUZZ_COUNT (default 20000, what CI runs). The full proof is
//   TORTIE_FUZZ_COUNT=1000000 npx vitest run bgp/codec/fuzz.test.ts
// TORTIE_FUZZ_SEED picks the pseudo-random sequence (default fixed, so failures reproduce).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, maxMessageLength, type BgpMessage, type CodecContext } from './index.js';
import * as A from './testing/arbitraries.js';
import { FIXTURE_FRAMES } from './testing/fixtures.js';

const COUNT = Number(process.env.TORTIE_FUZZ_COUNT ?? 20000);
const SEED = Number(process.env.TORTIE_FUZZ_SEED ?? 0x7081e);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CONTEXTS: CodecContext[] = [
  { fourOctetAs: true },
  { fourOctetAs: false },
  { fourOctetAs: true, ebgp: true, extendedNextHop: true },
  { fourOctetAs: true, addPath: [{ afi: 1, safi: 1, send: true, receive: true }, { afi: 2, safi: 1, send: true, receive: true }] },
];

const MIN_LEN: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 19 };
const BODY_CODE: Record<number, number> = { 1: 2, 2: 3, 5: 7 };

/** The NOTIFICATION error code the frame deserves if it is rejected. */
function expectedCode(f: Buffer, ctx: CodecContext): number {
  if (f.length < 19) return 1;
  for (let i = 0; i < 16; i++) if (f[i] !== 0xff) return 1;
  const len = f.readUInt16BE(16);
  if (len !== f.length || len < 19 || len > maxMessageLength(ctx)) return 1;
  const type = f[18];
  if (!(type in MIN_LEN) || len < MIN_LEN[type] || (type === 4 && len !== 19)) return 1;
  return BODY_CODE[type] ?? -1; // NOTIFICATION and KEEPALIVE with a good header always decode
}

const TYPE_NAMES: Record<number, BgpMessage['type']> = { 1: 'OPEN', 2: 'UPDATE', 3: 'NOTIFICATION', 4: 'KEEPALIVE', 5: 'ROUTE_REFRESH' };

function checkOne(f: Buffer, ctx: CodecContext): void {
  let r;
  try {
    r = decodeMessage(f, ctx);
  } catch (e) {
    throw new Error(`decodeMessage threw on ${f.toString('hex')}: ${(e as Error).stack}`);
  }
  if (!r.ok) {
    if (r.reason.startsWith('internal')) throw new Error(`internal error on ${f.toString('hex')}: ${r.reason}`);
    const want = expectedCode(f, ctx);
    if (r.notification.code !== want) throw new Error(`NOTIFICATION ${r.notification.code}/${r.notification.subcode} (${r.reason}), expected code ${want}, for ${f.toString('hex')}`);
    return;
  }
  if (r.message.type !== TYPE_NAMES[f[18]]) throw new Error(`decoded ${r.message.type} from type ${f[18]}`);
  if (r.message.type === 'UPDATE') {
    const u = r.message;
    if (r.treatAsWithdraw && (u.attributes || u.nlri.length)) throw new Error(`treat-as-withdraw left announcements in ${f.toString('hex')}`);
    // RFC 7606 §3(d): whatever is still announced carries the well-known mandatory attributes.
    const announces = u.nlri.length > 0 || (!r.treatAsWithdraw && (u.mpReach?.nlri.length ?? 0) > 0);
    if (announces && (!u.attributes || (u.nlri.length > 0 && u.attributes.nextHop === undefined))) {
      throw new Error(`announcement without mandatory attributes accepted: ${f.toString('hex')}`);
    }
  }
  // What we accepted we can send on, and reading it back gives the same message.
  const big = { ...ctx, extendedMessages: true };
  let again: Buffer;
  try {
    again = encodeMessage(r.message, big);
  } catch (e) {
    throw new Error(`re-encoding the decoding of ${f.toString('hex')} failed: ${(e as Error).message}`);
  }
  if (ctx.fourOctetAs) {
    const r2 = decodeMessage(again, big);
    if (!r2.ok) throw new Error(`re-decoding failed: ${r2.reason} for ${f.toString('hex')}`);
    expect(r2.message).toEqual(r.message);
  }
}

function corpus(): Buffer[] {
  const ctx: CodecContext = { fourOctetAs: true };
  const msgs = fc.sample(A.anyMessage, { numRuns: 400, seed: SEED });
  const out: Buffer[] = [...FIXTURE_FRAMES];
  for (const m of msgs) {
    try {
      out.push(encodeMessage(m, ctx));
    } catch {
      /* larger than 4096: skip */
    }
  }
  return out;
}

function mutate(src: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const op = Math.floor(rnd() * 7);
    const at = 19 + Math.floor(rnd() * Math.max(1, b.length - 19));
    switch (op) {
      case 0: // flip a bit
        if (at < b.length) b[at] ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1: // random byte
        if (at < b.length) b[at] = Math.floor(rnd() * 256);
        break;
      case 2: // interesting byte
        if (at < b.length) b[at] = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40, 0xc0, 32, 33, 128, 129][Math.floor(rnd() * 12)];
        break;
      case 3: // truncate
        b = b.subarray(0, Math.max(19, at));
        break;
      case 4: // insert bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256))), b.subarray(at)]);
        break;
      case 5: // delete bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rnd() * 4)))]);
        break;
      default: // header damage, now and then
        if (rnd() < 0.3) b[Math.floor(rnd() * 19)] = Math.floor(rnd() * 256);
    }
  }
  // Mostly keep the header length truthful so mutations reach the body decoders.
  if (rnd() < 0.9 && b.length <= 0xffff && b.length >= 18) {
    b = Buffer.from(b);
    b.writeUInt16BE(b.length, 16);
  }
  return b;
}

function randomFrame(rnd: () => number): Buffer {
  const type = rnd() < 0.9 ? 1 + Math.floor(rnd() * 5) : Math.floor(rnd() * 256);
  const len = Math.floor(rnd() * 120);
  const body = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
  if (type === 2 && len >= 4 && rnd() < 0.7) {
    // A plausible UPDATE skeleton: consistent withdrawn/attribute lengths around random content.
    const w = Math.floor(rnd() * Math.min(len - 4, 10));
    body.writeUInt16BE(w, 0);
    body.writeUInt16BE(Math.max(0, len - 4 - w - Math.floor(rnd() * 6)), 2 + w);
  }
  const f = Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 0, type]), body]);
  f.writeUInt16BE(f.length, 16);
  return f;
}

describe(`codec fuzz (${COUNT} messages, seed ${SEED})`, () => {
  // Generous: ~1 ms per message even on a loaded machine (the loop yields, so vitest stays responsive).
  const timeout = Math.max(30_000, COUNT);
  it('never throws; rejects with the right code; accepted messages round-trip', async () => {
    const rnd = prng(SEED);
    const seeds = corpus();
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < COUNT; i++) {
      const ctx = CONTEXTS[i % CONTEXTS.length];
      const f = rnd() < 0.2 ? randomFrame(rnd) : mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
      checkOne(f, ctx);
      if (decodeMessage(f, ctx).ok) ok++;
      else rejected++;
      // Let the test runner's RPC breathe during million-message runs.
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    }
    // Both outcomes must actually be exercised for the run to mean anything.
    expect(ok).toBeGreaterThan(COUNT / 20);
    expect(rejected).toBeGreaterThan(COUNT / 20);
  }, timeout);
});
