import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageFramer, encodeMessage, type BgpMessage } from './index.js';
import * as A from './testing/arbitraries.js';

const ctx = { fourOctetAs: true };

describe('MessageFramer', () => {
  it('reassembles any split of a message stream into the same frames', () => {
    fc.assert(
      fc.property(fc.array(A.anyMessage, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 30 }), (msgs: BgpMessage[], cuts) => {
        const frames = msgs.flatMap((m) => {
          try {
            return [encodeMessage(m, ctx)];
          } catch {
            return [];
          }
        });
        const stream = Buffer.concat(frames);
        const f = new MessageFramer();
        const got: Buffer[] = [];
        let off = 0;
        let i = 0;
        while (off < stream.length) {
          const n = cuts[i++ % cuts.length];
          got.push(...f.push(stream.subarray(off, off + n)));
          off += n;
        }
        expect(f.error).toBeUndefined();
        expect(f.buffered).toBe(0);
        expect(got.map((b) => b.toString('hex'))).toEqual(frames.map((b) => b.toString('hex')));
      }),
      { numRuns: 200 },
    );
  });

  it('returns the good frames before a header error, then the NOTIFICATION 1/1', () => {
    const ka = encodeMessage({ type: 'KEEPALIVE' }, ctx);
    const bad = Buffer.from(ka);
    bad[0] = 0;
    const f = new MessageFramer();
    const r = f.feed(Buffer.concat([ka, ka, bad, ka]));
    expect(r.frames).toHaveLength(2);
    expect([r.error?.notification.code, r.error?.notification.subcode]).toEqual([1, 1]);
    expect(f.push(ka)).toEqual([]);
    expect(f.error?.code).toBe(1);
  });

  it('rejects a length above 4096 with 1/2 and the length as data, unless extended messages are on', () => {
    const hdr = Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0x10, 0x01, 2])]);
    const f = new MessageFramer();
    f.push(hdr);
    expect([f.error?.code, f.error?.subcode]).toEqual([1, 2]);
    expect([...f.error!.data]).toEqual([0x10, 0x01]);
    const g = new MessageFramer({ extendedMessages: true });
    expect(g.push(hdr)).toEqual([]);
    expect(g.error).toBeUndefined();
    expect(g.buffered).toBe(19);
  });

  it('rejects a length below 19', () => {
    const f = new MessageFramer();
    f.push(Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 18, 4])]));
    expect([f.error?.code, f.error?.subcode]).toEqual([1, 2]);
  });
});
