// Fuzzing material shared by the codec fuzz test and bench/bgp-fuzz.ts: a seeded PRNG, a corpus
// of real captures plus generated messages, mutators, and the oracle that says what a frame
// deserves (the NOTIFICATION code the RFCs give, or acceptance that round-trips).
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, maxMessageLength, type BgpMessage, type CodecContext } from '../index.js';
import * as A from './arbitraries.js';
import { FIXTURE_FRAMES } from './fixtures.js';

/** A small, fast, seeded PRNG (mulberry32), so a failing run reproduces from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The session shapes frames are decoded under. */
export const FUZZ_CONTEXTS: CodecContext[] = [
  { fourOctetAs: true },
  { fourOctetAs: false },
  { fourOctetAs: true, ebgp: true, extendedNextHop: true },
  { fourOctetAs: true, addPath: [{ afi: 1, safi: 1, send: true, receive: true }, { afi: 2, safi: 1, send: true, receive: true }] },
];

const MIN_LEN: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 19 };
const BODY_CODE: Record<number, number> = { 1: 2, 2: 3, 5: 7 };
const TYPE_NAMES: Record<number, BgpMessage['type']> = { 1: 'OPEN', 2: 'UPDATE', 3: 'NOTIFICATION', 4: 'KEEPALIVE', 5: 'ROUTE_REFRESH' };

/** The NOTIFICATION error code the frame deserves if it is rejected (-1: it must not be). */
export function expectedCode(f: Buffer, ctx: CodecContext): number {
  if (f.length < 19) return 1;
  for (let i = 0; i < 16; i++) if (f[i] !== 0xff) return 1;
  const len = f.readUInt16BE(16);
  if (len !== f.length || len < 19 || len > maxMessageLength(ctx)) return 1;
  const type = f[18];
  if (!(type in MIN_LEN) || len < MIN_LEN[type] || (type === 4 && len !== 19)) return 1;
  return BODY_CODE[type] ?? -1; // NOTIFICATION and KEEPALIVE with a good header always decode
}

/**
 * Decodes one frame and checks the outcome against the RFCs: no exception, no internal error,
 * a rejection carries the right code, treat-as-withdraw leaves no announcement, whatever is still
 * announced has the mandatory attributes, and an accepted message re-encodes and decodes back to
 * itself. Returns what went wrong, or undefined; `accepted` says which way the frame went.
 */
export function checkFrame(f: Buffer, ctx: CodecContext): { accepted: boolean; problem?: string } {
  let r;
  try {
    r = decodeMessage(f, ctx);
  } catch (e) {
    return { accepted: false, problem: `decodeMessage threw on ${f.toString('hex')}: ${(e as Error).stack}` };
  }
  if (!r.ok) {
    if (r.reason.startsWith('internal')) return { accepted: false, problem: `internal error on ${f.toString('hex')}: ${r.reason}` };
    const want = expectedCode(f, ctx);
    if (r.notification.code !== want) {
      return { accepted: false, problem: `NOTIFICATION ${r.notification.code}/${r.notification.subcode} (${r.reason}), expected code ${want}, for ${f.toString('hex')}` };
    }
    return { accepted: false };
  }
  const fail = (problem: string) => ({ accepted: true, problem });
  if (r.message.type !== TYPE_NAMES[f[18]]) return fail(`decoded ${r.message.type} from type ${f[18]}`);
  if (r.message.type === 'UPDATE') {
    const u = r.message;
    if (r.treatAsWithdraw && (u.attributes || u.nlri.length)) return fail(`treat-as-withdraw left announcements in ${f.toString('hex')}`);
    // RFC 7606 §3(d): whatever is still announced carries the well-known mandatory attributes.
    const announces = u.nlri.length > 0 || (!r.treatAsWithdraw && (u.mpReach?.nlri.length ?? 0) > 0);
    if (announces && (!u.attributes || (u.nlri.length > 0 && u.attributes.nextHop === undefined))) {
      return fail(`announcement without mandatory attributes accepted: ${f.toString('hex')}`);
    }
  }
  // What we accepted we can send on, and reading it back gives the same message.
  const big = { ...ctx, extendedMessages: true };
  let again: Buffer;
  try {
    again = encodeMessage(r.message, big);
  } catch (e) {
    return fail(`re-encoding the decoding of ${f.toString('hex')} failed: ${(e as Error).message}`);
  }
  if (ctx.fourOctetAs) {
    const r2 = decodeMessage(again, big);
    if (!r2.ok) return fail(`re-decoding failed: ${r2.reason} for ${f.toString('hex')}`);
    if (!isDeepStrictEqual(withoutUndefined(r2.message), withoutUndefined(r.message))) return fail(`re-decoding changed the message for ${f.toString('hex')}`);
  }
  return { accepted: true };
}

/** A copy without undefined-valued fields, so `{ a: undefined }` and `{}` compare equal. */
function withoutUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUndefined);
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = withoutUndefined(x);
  return out;
}

/** Seeds to mutate: the captured BIRD/GoBGP frames plus `generated` messages from the arbitraries. */
export function corpus(seed: number, generated = 400): Buffer[] {
  const ctx: CodecContext = { fourOctetAs: true };
  const msgs = fc.sample(A.anyMessage, { numRuns: generated, seed });
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

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40, 0xc0, 32, 33, 128, 129];

/** One to four mutations of a seed frame, mostly in the body; the header length mostly kept truthful. */
export function mutate(src: Buffer, rnd: () => number): Buffer {
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
        if (at < b.length) b[at] = INTERESTING[Math.floor(rnd() * INTERESTING.length)];
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

/** A random frame with a good marker: any type (mostly the five real ones), random body. */
export function randomFrame(rnd: () => number): Buffer {
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

/** The next fuzz frame: a fifth random, the rest mutated seeds. */
export function nextFrame(seeds: Buffer[], rnd: () => number): Buffer {
  return rnd() < 0.2 ? randomFrame(rnd) : mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
}
