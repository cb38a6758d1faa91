import { describe, expect, it } from 'vitest';
import { detectRestart, type RouteSeen } from './restart.js';

const r = (family: 4 | 6, protocol: number, table = 254): RouteSeen => ({ family, protocol, table });

describe('detectRestart', () => {
  it('our routes (protocol 80, main table) in the kernel: restarting, F for the families that have them', () => {
    const d = detectRestart('bird', [r(4, 80), r(4, 80), r(4, 2), r(6, 2)]);
    expect(d).toMatchObject({ restarting: true, forwardingFamilies: [4] });
    expect(d.reason).toMatch(/2 IPv4 and 0 IPv6 routes with protocol 80/);
    expect(detectRestart('bird', [r(6, 80), r(4, 80)]).forwardingFamilies).toEqual([4, 6]);
  });

  it('cold start: no routes of ours, or only others\' (kernel, boot, BIRD) or in another table', () => {
    for (const routes of [[], [r(4, 2), r(4, 3), r(4, 12)], [r(4, 80, 255), r(6, 80, 100)]])
      expect(detectRestart('bird', routes)).toMatchObject({ restarting: false, forwardingFamilies: [], reason: expect.stringMatching(/cold start/) as unknown });
  });

  it('without a BGP speaker (vxlan / none backends) there is no graceful restart to do', () => {
    expect(detectRestart('vxlan', [r(4, 80)])).toMatchObject({ restarting: false, forwardingFamilies: [] });
    expect(detectRestart('none', [r(4, 80)]).restarting).toBe(false);
  });
});
