import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../types.js';
import { asPathLength, comparePaths, decisionReason, LOCAL_SOURCE, neighbourAs, rankPaths, type DecisionReason, type PathInfo } from './bestpath.js';

const LOCAL_AS = 64512;
interface Source {
  address: string;
  routerId: string;
  ebgp: boolean;
}
const LOCAL: Source = { address: LOCAL_SOURCE, routerId: '', ebgp: false };
const peer = (address: string, o: { asn?: number; routerId?: string } = {}): Source => ({ address, routerId: o.routerId ?? address, ebgp: (o.asn ?? LOCAL_AS) !== LOCAL_AS });
const path = (src: Source, a: Partial<PathAttributes> = {}, nextHop = src.address): PathInfo & { src: Source } => ({
  src,
  attrs: { origin: 0, asPath: [], ...a },
  nextHop,
  source: src.address,
  ebgp: src.ebgp,
  peerRouterId: src.routerId,
});
type Path = ReturnType<typeof path>;
const seq = (...asns: number[]) => ({ type: 2 as const, asns });
const set = (...asns: number[]) => ({ type: 1 as const, asns });
const confed = (...asns: number[]) => ({ type: 3 as const, asns });

const A = peer('10.0.0.1');
const B = peer('10.0.0.2');

function winner(a: Path, b: Path): { w: Path; reason: DecisionReason } {
  const r = comparePaths(a, b);
  const r2 = comparePaths(b, a);
  // Antisymmetric and the same reason both ways round.
  expect(Math.sign(r.cmp)).toBe(-Math.sign(r2.cmp));
  expect(r2.reason).toBe(r.reason);
  return { w: r.cmp <= 0 ? a : b, reason: r.reason };
}

describe('best path tie-breakers, each in isolation', () => {
  it('locally originated wins even against higher LOCAL_PREF', () => {
    const l = path(LOCAL, { localPref: 1 });
    const p = path(A, { localPref: 500 });
    expect(winner(p, l)).toEqual({ w: l, reason: 'local-origin' });
  });
  it('highest LOCAL_PREF, absent counting as 100', () => {
    expect(winner(path(A, { localPref: 100 }), path(B, { localPref: 200 })).reason).toBe('local-pref');
    const b = path(B, { localPref: 99 });
    const a = path(A, {});
    expect(winner(b, a)).toEqual({ w: a, reason: 'local-pref' });
  });
  it('shortest AS_PATH: AS_SET counts 1, confederation segments 0', () => {
    expect(asPathLength([seq(1, 2, 3), set(4, 5, 6)])).toBe(4);
    expect(asPathLength([confed(1, 2, 3), seq(9)])).toBe(1);
    const a = path(A, { asPath: [seq(65001, 65002, 65003)] });
    const b = path(B, { asPath: [seq(65001), set(1, 2, 3)] });
    expect(winner(a, b)).toEqual({ w: b, reason: 'as-path-length' });
    const c = path(B, { asPath: [confed(1, 2, 3, 4), seq(65001)] });
    expect(winner(a, c)).toEqual({ w: c, reason: 'as-path-length' });
  });
  it('lowest ORIGIN', () => {
    const a = path(A, { origin: 2 });
    const b = path(B, { origin: 1 });
    expect(winner(a, b)).toEqual({ w: b, reason: 'origin' });
  });
  it('lowest MED only between routes from the same neighbour AS; missing MED is 0', () => {
    const a = path(A, { asPath: [seq(65001)], med: 10 });
    const b = path(B, { asPath: [seq(65001)], med: 5 });
    expect(winner(a, b)).toEqual({ w: b, reason: 'med' });
    const none = path(A, { asPath: [seq(65001)] });
    expect(winner(b, none)).toEqual({ w: none, reason: 'med' });
    // Different neighbour AS: MED ignored, decided later (router id: A < B).
    const c = path(A, { asPath: [seq(65009)], med: 1000 });
    expect(winner(c, b)).toEqual({ w: c, reason: 'router-id' });
    expect(neighbourAs([confed(7), seq(65001, 2)])).toBe(65001);
  });
  it('eBGP over iBGP', () => {
    const e = path(peer('10.0.0.9', { asn: 65001 }), { asPath: [seq(65001)] });
    const i = path(A, { asPath: [seq(65002)] });
    expect(winner(i, e)).toEqual({ w: e, reason: 'ebgp-over-ibgp' });
  });
  it('lowest router id, ORIGINATOR_ID standing in for it when present', () => {
    const a = path(peer('10.0.0.1', { routerId: '9.9.9.9' }));
    const b = path(peer('10.0.0.2', { routerId: '1.1.1.1' }));
    expect(winner(a, b)).toEqual({ w: b, reason: 'router-id' });
    const c = path(peer('10.0.0.3', { routerId: '1.1.1.1' }), { originatorId: '200.0.0.1' });
    expect(winner(a, c)).toEqual({ w: a, reason: 'router-id' });
    // Numeric, not string, order: 9.0.0.1 < 10.0.0.1.
    expect(winner(path(peer('1.1.1.1', { routerId: '10.0.0.1' })), path(peer('1.1.1.2', { routerId: '9.0.0.1' }))).w.src.routerId).toBe('9.0.0.1');
  });
  it('shortest CLUSTER_LIST', () => {
    const a = path(peer('10.0.0.1', { routerId: '5.5.5.5' }), { originatorId: '7.7.7.7', clusterList: ['1.1.1.1', '2.2.2.2'] });
    const b = path(peer('10.0.0.2', { routerId: '6.6.6.6' }), { originatorId: '7.7.7.7', clusterList: ['3.3.3.3'] });
    expect(winner(a, b)).toEqual({ w: b, reason: 'cluster-list-length' });
  });
  it('lowest peer address last', () => {
    const a = path(peer('10.0.0.20', { routerId: '7.7.7.7' }));
    const b = path(peer('10.0.0.3', { routerId: '7.7.7.7' }));
    expect(winner(a, b)).toEqual({ w: b, reason: 'peer-address' });
    const c = path(peer('fd00::1', { routerId: '7.7.7.7' }));
    expect(winner(c, b).w).toBe(b);
  });
  it('decisionReason reports the rule between best and runner-up', () => {
    const ranked = rankPaths([path(A, { localPref: 50 }), path(B, { localPref: 150 })]);
    expect(ranked[0].src).toBe(B);
    expect(decisionReason(ranked)).toBe('local-pref');
    expect(decisionReason(ranked.slice(0, 1))).toBe('only-path');
  });
  it('the precedence order holds: an earlier rule overrides every later one', () => {
    // Better on every later criterion but worse on LOCAL_PREF.
    const a = path(peer('10.0.0.1', { asn: 65001, routerId: '1.1.1.1' }), { localPref: 100, asPath: [seq(65001)], origin: 0, med: 0 });
    const b = path(peer('10.0.0.2', { routerId: '2.2.2.2' }), { localPref: 101, asPath: [seq(1, 2, 3, 4)], origin: 2, med: 99, clusterList: ['1.1.1.1'] });
    expect(winner(a, b)).toEqual({ w: b, reason: 'local-pref' });
  });
});
