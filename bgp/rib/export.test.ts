import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PathAttributes } from '../types.js';
import { asPathLength, best, comparePaths } from './bestpath.js';
import { exportRoute, type ExportTarget } from './export.js';
import type { Candidate } from './rib.js';

const prefix = { family: 4 as const, address: '10.0.0.0', length: 24 };
const attrs = (over: Partial<PathAttributes> = {}): PathAttributes => ({ origin: 0, asPath: [], ...over });
const cand = (over: Partial<Candidate> = {}): Candidate => ({
  prefix,
  attrs: attrs(),
  nextHop: '10.1.0.1',
  source: '10.1.0.1',
  ebgp: false,
  peerRouterId: '10.1.0.1',
  ...over,
});

describe('best path', () => {
  it('prefers local routes', () => {
    expect(best([cand({ attrs: attrs({ localPref: 500 }) }), cand({ source: 'local' })])?.source).toBe('local');
  });
  it('prefers higher LOCAL_PREF, then shorter AS_PATH, then lower ORIGIN', () => {
    expect(comparePaths(cand({ attrs: attrs({ localPref: 200 }) }), cand()).cmp).toBeLessThan(0);
    expect(comparePaths(cand({ attrs: attrs({ asPath: [{ type: 2, asns: [1] }] }) }), cand({ attrs: attrs({ asPath: [{ type: 2, asns: [1, 2] }] }) })).cmp).toBeLessThan(0);
    expect(comparePaths(cand({ attrs: attrs({ origin: 0 }) }), cand({ attrs: attrs({ origin: 2 }) })).cmp).toBeLessThan(0);
  });
  it('compares MED only within the same neighbour AS', () => {
    const a = cand({ attrs: attrs({ asPath: [{ type: 2, asns: [1] }], med: 10 }), source: '10.1.0.9', peerRouterId: '10.1.0.9' });
    const b = cand({ attrs: attrs({ asPath: [{ type: 2, asns: [1] }], med: 5 }), source: '10.1.0.8', peerRouterId: '10.1.0.8' });
    expect(best([a, b])).toBe(b);
    const c = cand({ attrs: attrs({ asPath: [{ type: 2, asns: [2] }], med: 5 }), source: '10.1.0.8', peerRouterId: '10.1.0.8' });
    // Different neighbour AS: MED ignored, lower router id wins.
    expect(best([a, c])).toBe(c);
  });
  it('prefers eBGP over iBGP, then lower router id (ORIGINATOR_ID first), then shorter CLUSTER_LIST, then lower peer address', () => {
    expect(best([cand(), cand({ ebgp: true, source: '10.9.9.9', peerRouterId: '10.9.9.9' })])?.ebgp).toBe(true);
    expect(best([cand({ peerRouterId: '10.0.0.9' }), cand({ peerRouterId: '9.0.0.1', source: '10.1.0.2' })])?.peerRouterId).toBe('9.0.0.1');
    expect(best([cand({ peerRouterId: '1.1.1.1', attrs: attrs({ originatorId: '10.9.9.9' }) }), cand({ peerRouterId: '2.2.2.2', source: '10.1.0.2' })])?.peerRouterId).toBe('2.2.2.2');
    expect(best([cand({ attrs: attrs({ clusterList: ['1.1.1.1', '2.2.2.2'] }) }), cand({ source: '10.1.0.2', attrs: attrs({ clusterList: ['1.1.1.1'] }) })])?.source).toBe('10.1.0.2');
    expect(best([cand({ source: '10.1.0.3' }), cand({ source: '10.1.0.2' })])?.source).toBe('10.1.0.2');
  });
  it('counts AS_SET as one and confederation segments as zero', () => {
    expect(asPathLength([{ type: 2, asns: [1, 2] }, { type: 1, asns: [3, 4, 5] }, { type: 3, asns: [9] }])).toBe(3);
  });
  it('is independent of candidate order', () => {
    const arb = fc.record({
      localPref: fc.integer({ min: 0, max: 3 }),
      len: fc.integer({ min: 0, max: 3 }),
      origin: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
      ebgp: fc.boolean(),
      id: fc.integer({ min: 1, max: 250 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(arb, { minLength: 1, maxLength: 6, selector: (x) => x.id }), (xs) => {
        const cs = xs.map((x) => cand({ attrs: attrs({ localPref: x.localPref, origin: x.origin, asPath: [{ type: 2, asns: Array(x.len).fill(7) }] }), ebgp: x.ebgp, source: `10.2.0.${x.id}`, peerRouterId: `10.2.0.${x.id}` }));
        expect(best(cs)).toBe(best([...cs].reverse()));
      }),
    );
  });
});

const target = (over: Partial<ExportTarget> = {}): ExportTarget => ({
  address: '10.5.0.1',
  ebgp: false,
  rrClient: false,
  localAs: 64512,
  clusterId: '10.0.0.1',
  selfAddress: '10.0.0.1',
  ...over,
});

describe('export rules', () => {
  it('never sends a route back to where it came from', () => {
    expect(exportRoute(cand({ source: '10.5.0.1' }), 4, target())).toBeUndefined();
  });
  it('iBGP: local routes get next-hop-self and LOCAL_PREF 100', () => {
    expect(exportRoute(cand({ source: 'local', nextHop: '' }), 4, target())).toEqual({ attrs: attrs({ localPref: 100, nextHop: '10.0.0.1' }), nextHop: '10.0.0.1' });
  });
  it('a local route naming its IPv4 next hop (`gobgp global rib add … nexthop`) is sent with it, iBGP and eBGP', () => {
    const c = cand({ source: 'local', nextHop: '', attrs: attrs({ nextHop: '10.0.0.77' }) });
    expect(exportRoute(c, 4, target())?.nextHop).toBe('10.0.0.77');
    expect(exportRoute(c, 4, target({ ebgp: true }))).toMatchObject({ attrs: { nextHop: '10.0.0.77' }, nextHop: '10.0.0.77' });
  });
  it('iBGP split horizon: iBGP-learned routes are not passed to iBGP peers', () => {
    expect(exportRoute(cand(), 4, target())).toBeUndefined();
  });
  it('route reflection: client routes go to everyone with ORIGINATOR_ID and our CLUSTER_ID, next hop kept', () => {
    const e = exportRoute(cand({ fromRrClient: true }), 4, target());
    expect(e).toEqual({ attrs: attrs({ localPref: 100, originatorId: '10.1.0.1', clusterList: ['10.0.0.1'] }), nextHop: '10.1.0.1' });
    expect(exportRoute(cand(), 4, target({ rrClient: true }))?.attrs.clusterList).toEqual(['10.0.0.1']);
  });
  it('eBGP: prepends our AS, next-hop-self, strips LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST and foreign MED', () => {
    const c = cand({ attrs: attrs({ asPath: [{ type: 2, asns: [65001] }], localPref: 200, med: 5, originatorId: '1.1.1.1', clusterList: ['2.2.2.2'] }) });
    expect(exportRoute(c, 4, target({ ebgp: true }))).toEqual({ attrs: attrs({ asPath: [{ type: 2, asns: [64512, 65001] }], nextHop: '10.0.0.1' }), nextHop: '10.0.0.1' });
    expect(exportRoute(cand({ source: 'local', attrs: attrs({ med: 7 }) }), 4, target({ ebgp: true }))?.attrs).toEqual(attrs({ med: 7, asPath: [{ type: 2, asns: [64512] }], nextHop: '10.0.0.1' }));
  });
  it('extended communities pass on unchanged over iBGP; eBGP drops the non-transitive ones (RFC 4360 §2)', () => {
    const ext: Array<[number, number]> = [
      [0x0002fde8, 100],
      [0x43000000, 1],
    ];
    const c = cand({ ebgp: true, attrs: attrs({ asPath: [{ type: 2, asns: [65001] }], extendedCommunities: ext }) });
    expect(exportRoute(c, 4, target())?.attrs.extendedCommunities).toEqual(ext);
    expect(exportRoute(c, 4, target({ ebgp: true, address: '10.6.0.1' }))?.attrs.extendedCommunities).toEqual([[0x0002fde8, 100]]);
    const onlyLocal = cand({ ebgp: true, attrs: attrs({ extendedCommunities: [[0x43000000, 1]] }) });
    expect(exportRoute(onlyLocal, 4, target({ ebgp: true, address: '10.6.0.1' }))?.attrs).not.toHaveProperty('extendedCommunities');
  });
  it('eBGP: keepOriginalNextHop keeps a learned next hop', () => {
    expect(exportRoute(cand({ ebgp: true }), 4, target({ ebgp: true, address: '10.6.0.1', keepOriginalNextHop: true }))?.nextHop).toBe('10.1.0.1');
  });
  it('eBGP: an AS_SET first segment gets a new sequence in front', () => {
    expect(exportRoute(cand({ attrs: attrs({ asPath: [{ type: 1, asns: [1, 2] }] }) }), 4, target({ ebgp: true }))?.attrs.asPath).toEqual([
      { type: 2, asns: [64512] },
      { type: 1, asns: [1, 2] },
    ]);
  });
});
