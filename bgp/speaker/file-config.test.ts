import { describe, expect, it } from 'vitest';
import { originatedRoutes, parseFileConfig, parsePrefix } from './file-config.js';

describe('speaker file config', () => {
  it('parses a full config', () => {
    const r = parseFileConfig({
      asNumber: 64512,
      routerId: '10.0.0.1',
      peers: [{ address: '10.0.0.2', asNumber: 64512 }],
      originate: [{ prefix: '10.1.2.3/24', communities: ['64512:100'], largeCommunities: ['1:2:3'], med: 5 }],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.peers[0].type).toBe('global');
    expect(originatedRoutes(r.config)).toEqual([
      { prefix: { family: 4, address: '10.1.2.0', length: 24 }, attrs: { communities: [64512 * 65536 + 100], largeCommunities: [[1, 2, 3]], med: 5 } },
    ]);
  });
  it('names the bad field', () => {
    const r = parseFileConfig({ asNumber: 64512, routerId: '10.0.0.1', peers: [{ address: 'nope', asNumber: 1 }] });
    expect(r).toMatchObject({ ok: false });
    expect(!r.ok && r.error).toContain('peers.0.address');
    expect(parseFileConfig({ asNumber: 64512, routerId: 'x' })).toMatchObject({ ok: false });
    expect(parseFileConfig({ asNumber: 64512, routerId: '1.1.1.1', holdTime: 2 })).toMatchObject({ ok: false });
    const bad = parseFileConfig({ asNumber: 64512, routerId: '1.1.1.1', originate: [{ prefix: '10.0.0.0/33' }] });
    expect(!bad.ok && bad.error).toContain('originate.0.prefix');
    expect(parseFileConfig({ asNumber: 64512, routerId: '1.1.1.1', bogus: 1 })).toMatchObject({ ok: false });
  });
  it('canonicalises prefixes (host bits zeroed, v6 short form)', () => {
    expect(parsePrefix('fd00:0:0::1/64')).toEqual({ family: 6, address: 'fd00::', length: 64 });
  });
});
