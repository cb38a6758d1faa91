import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeMessage, MessageFramer } from '../codec/index.js';
import { Announcements, keyOf, type OutAttr, type OutGroup } from '../rib/index.js';
import type { Prefix } from '../types.js';
import { Encoder, framesFor } from './encoder.js';

const ctx = { fourOctetAs: true };
const p = (address: string): Prefix => ({ family: 4, address, length: 32 });
const out = (id: number, originatorId?: string): OutAttr => ({ id, attrs: { origin: 0, asPath: [], nextHop: '10.0.0.1', localPref: 100, ...(originatorId ? { originatorId } : {}) } });

/** What a peer ends up holding from these frames: prefix → ORIGINATOR_ID ('' for none). */
function receive(frames: Buffer[]): { held: Map<string, string>; withdrawn: string[] } {
  const held = new Map<string, string>();
  const withdrawn: string[] = [];
  const framer = new MessageFramer();
  for (const f of frames.flatMap((b) => framer.push(b))) {
    const r = decodeMessage(f, ctx);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('not an UPDATE');
    for (const w of r.message.withdrawn) withdrawn.push(keyOf(w));
    for (const n of r.message.nlri) held.set(keyOf(n), r.message.attributes?.originatorId ?? '');
  }
  return { held, withdrawn };
}

describe('batch frames per member', () => {
  const routes = new Announcements();
  routes.add(out(1), p('10.1.0.1'));
  routes.add(out(2, '10.0.0.7'), p('10.1.0.2'));
  routes.add(out(3, '10.0.0.8'), p('10.1.0.3'));
  const batch = new Encoder(pino({ level: 'silent' })).pack(routes, [p('10.1.0.9')], ctx, JSON.stringify(ctx), 'test');

  it('a member gets the whole batch as one buffer', () => {
    const frames = framesFor(batch, '10.0.0.5', ctx);
    expect(frames).toEqual([batch.all]);
    expect(receive(frames)).toEqual({ held: new Map([['10.1.0.1/32', ''], ['10.1.0.2/32', '10.0.0.7'], ['10.1.0.3/32', '10.0.0.8']]), withdrawn: ['10.1.0.9/32'] });
  });

  it('a member that originated a route gets a withdrawal for it instead (it would drop it and withdraw what it held, RFC 4456 §8)', () => {
    const got = receive(framesFor(batch, '10.0.0.7', ctx));
    expect(got.held).toEqual(new Map([['10.1.0.1/32', ''], ['10.1.0.3/32', '10.0.0.8']]));
    expect(got.withdrawn.sort()).toEqual(['10.1.0.2/32', '10.1.0.9/32']);
  });

  it('a member that cannot hold anything for its own route (new to its group) gets nothing for it', () => {
    const frames = framesFor(batch, '10.0.0.7', ctx, () => false);
    expect(frames).toHaveLength(3); // the batch's withdrawals and the two other parts: nothing for its own route
    expect(receive(frames)).toEqual({ held: new Map([['10.1.0.1/32', ''], ['10.1.0.3/32', '10.0.0.8']]), withdrawn: ['10.1.0.9/32'] });
  });
});

describe('walk ranges', () => {
  it('a range is encoded once while its version stands, again after it moves, and apart per codec context', () => {
    const enc = new Encoder(pino({ level: 'silent' }));
    const g = {} as unknown as OutGroup;
    let made = 0;
    const make = (): ReturnType<Encoder['pack']> => (made++, { all: Buffer.from([made]), parts: [] });
    const first = enc.walkFrames(g, 'ctx', { range: 0, version: 3 }, make);
    expect(enc.walkFrames(g, 'ctx', { range: 0, version: 3 }, make)).toBe(first);
    expect(enc.walkReuses).toBe(1);
    expect(enc.walkFrames(g, 'ctx', { range: 0, version: 4 }, make)).not.toBe(first);
    enc.walkFrames(g, 'other ctx', { range: 0, version: 4 }, make);
    enc.walkFrames(g, 'ctx', { range: 1, version: 4 }, make);
    expect(made).toBe(4);
  });
});
