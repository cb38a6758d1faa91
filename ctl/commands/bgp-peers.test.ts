// Golden files: test/fixtures/bgp-peers/<case>.yaml (datastore contents) → <case>.expected.txt (the
// table `tortiectl bgp peers` prints). Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { computeBgpConfig } from '../../bgp/config/generate.js';
import type { BgpConfigInput } from '../../bgp/config/types.js';
import { bgpPeers, formatBgpPeers } from './bgp-peers.js';

const DIR = join(import.meta.dirname, '../../test/fixtures/bgp-peers');
const cases = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('tortiectl bgp peers golden files', () => {
  it('has the cases the issue asks for', () => {
    expect(cases).toEqual(expect.arrayContaining(['mesh.yaml', 'mesh-off.yaml', 'explicit.yaml', 'selectors-rr.yaml', 'ipv6.yaml']));
  });
  for (const file of cases) {
    it(file, () => {
      const input = parse(readFileSync(join(DIR, file), 'utf8')) as BgpConfigInput;
      const text = formatBgpPeers(computeBgpConfig(input), input.pools);
      const golden = join(DIR, file.replace(/\.yaml$/, '.expected.txt'));
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, text);
      expect(text).toBe(readFileSync(golden, 'utf8'));
    });
  }
});

describe('bgpPeers command core', () => {
  const load = async () => ({
    nodes: [{ metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '10.0.0.1/24' } } }, { metadata: { name: 'n2' }, spec: { bgp: { ipv4Address: '10.0.0.2/24' } } }],
    peers: [],
    bgpConfigs: [],
    pools: [],
    affinities: [],
    borrowedIps: [],
  });
  it('prints json with the peer fields', async () => {
    const r = await bgpPeers('n1', 'json', { load });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.text) as { peers: Array<Record<string, unknown>> };
    expect(j.peers).toEqual([
      { name: 'Mesh_10_0_0_2', family: 4, address: '10.0.0.2', asNumber: 64512, type: 'mesh', passive: true, rrClient: false, sourceAddress: '10.0.0.1' },
    ]);
  });
  it('rejects an unknown output format', async () => {
    expect((await bgpPeers('n1', 'yaml', { load })).code).toBe(2);
  });
  it('reports a bad selector by resource and field instead of crashing', async () => {
    const r = await bgpPeers('n1', 'table', {
      load: async () => ({ ...(await load()), peers: [{ metadata: { name: 'bad' }, spec: { nodeSelector: 'a ==', peerIP: '10.0.0.9', asNumber: 1 } }] }),
    });
    expect(r.code).toBe(1);
    expect(r.text).toContain('BGPPeer bad spec.nodeSelector');
  });
  it('explains an unknown node', async () => {
    const r = await bgpPeers('nope', 'table', { load });
    expect(r.text).toContain('does not exist');
  });
});
