import { describe, expect, it } from 'vitest';
import { formatAsPath, mergeAs4Path } from './aspath.js';
import type { AsPathSegment } from '../types.js';

const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });
const cseq = (...asns: number[]): AsPathSegment => ({ type: 3, asns });

describe('RFC 6793 §4.2.3 AS_PATH / AS4_PATH merge', () => {
  it('keeps the leading ASes AS4_PATH lacks (added by 2-octet speakers) and re-joins the sequence', () => {
    expect(mergeAs4Path([seq(65001, 65002, 23456, 65003)], [seq(4200000001, 65003)])).toEqual([seq(65001, 65002, 4200000001, 65003)]);
  });
  it('ignores an AS4_PATH longer than AS_PATH', () => {
    expect(mergeAs4Path([seq(23456)], [seq(4200000001, 4200000002)])).toEqual([seq(23456)]);
  });
  it('an AS_SET counts as one AS', () => {
    expect(mergeAs4Path([seq(65001), set(23456, 65005)], [set(4200000001, 65005)])).toEqual([seq(65001), set(4200000001, 65005)]);
  });
  it('keeps leading confederation segments, which AS4_PATH never carries', () => {
    expect(mergeAs4Path([cseq(65100), seq(23456, 65003)], [seq(4200000001, 65003)])).toEqual([cseq(65100), seq(4200000001, 65003)]);
  });
  it('formats sets, sequences and confederation segments like BIRD', () => {
    expect(formatAsPath([cseq(1), { type: 4, asns: [2, 3] }, seq(4, 5), set(6, 7)])).toBe('(1) [2 3] 4 5 {6 7}');
  });
});
