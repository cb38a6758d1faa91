// Fuzz: random and mutated messages through decodeMessage. Asserts no exception escapes, no
// internal error is reported, every NOTIFICATION has the code the RFCs give for what is wrong
// (header → 1, OPEN → 2, UPDATE → 3, ROUTE-REFRESH → 7), and every accepted message re-encodes
// and decodes back to itself.
//
// Count: TORTIE_FUZZ_COUNT (default 20000, what CI runs). The ten-million-message proof, through
// the decoder and a live session, is bench/bgp-fuzz.ts.
// TORTIE_FUZZ_SEED picks the pseudo-random sequence (default fixed, so failures reproduce).
import { describe, expect, it } from 'vitest';
import { FUZZ_CONTEXTS, checkFrame, corpus, nextFrame, prng } from './testing/fuzz.js';

const COUNT = Number(process.env.TORTIE_FUZZ_COUNT ?? 20000);
const SEED = Number(process.env.TORTIE_FUZZ_SEED ?? 0x7081e);

describe(`codec fuzz (${COUNT} messages, seed ${SEED})`, () => {
  // Generous: ~1 ms per message even on a loaded machine (the loop yields, so vitest stays responsive).
  const timeout = Math.max(30_000, COUNT);
  it('never throws; rejects with the right code; accepted messages round-trip', async () => {
    const rnd = prng(SEED);
    const seeds = corpus(SEED);
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < COUNT; i++) {
      const ctx = FUZZ_CONTEXTS[i % FUZZ_CONTEXTS.length];
      const r = checkFrame(nextFrame(seeds, rnd), ctx);
      if (r.problem) throw new Error(r.problem);
      if (r.accepted) ok++;
      else rejected++;
      // Let the test runner's RPC breathe during million-message runs.
      if (i % 5000 === 4999) await new Promise((res) => setImmediate(res));
    }
    // Both outcomes must actually be exercised for the run to mean anything.
    expect(ok).toBeGreaterThan(COUNT / 20);
    expect(rejected).toBeGreaterThan(COUNT / 20);
  }, timeout);
});
