// tortie-lab with route reflectors: 6 nodes (tortie-node, BGP), `--rr 2` adds two tortie-rr with
// one cluster id, a BGPPeer to them and the mesh off. Every pod reaches every other pod, each
// node's only BGP peers are the two reflectors, and each reflector has every node as a client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withApi } from '../../bgp/api/gobgp/client.js';
import type { PeerStatus } from '../../bgp/speaker/types.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { entry } from '../harness/entry.js';
import { eventually, testLab, type TestLab } from './lab-helpers.js';

const [CTL_CMD, CTL_ARGV] = entry('ctl/main');

describe('e2e: lab with 6 nodes behind 2 tortie-rr, mesh off', () => {
  let t: TestLab;

  beforeAll(async () => {
    t = testLab('rr');
    await t.lab(['up', '--nodes', '6', '--rr', '2', '--pods-per-node', '1']);
  }, 600_000);

  afterAll(async () => {
    await t?.down();
  }, 120_000);

  it('each reflector has all 6 nodes and the other reflector Established', async () => {
    for (const k of [1, 2]) {
      const peers = await withApi(`unix:${t.stateDir}/rr${k}-gobgp.sock`, (c) => c.peers());
      expect(peers.filter((p) => p.state === 'Established')).toHaveLength(7);
    }
  });

  it('nodes peer only with the reflectors once the mesh is off', async () => {
    await eventually(async () => {
      for (let i = 1; i <= 6; i++) {
        const peers = await withApi(`unix:${t.stateDir}/node${i}-gobgp.sock`, (c) => c.peers());
        const addrs = peers.filter((p) => p.state === 'Established').map((p) => p.address).sort();
        if (peers.length !== 2 || addrs.join(',') !== '10.0.0.201,10.0.0.202') return undefined;
      }
      return true;
    }, 60_000);
  });

  it('`tortie-lab ping`: every pod reaches every other pod', async () => {
    const out = await eventually(async () => t.lab(['ping']).catch(() => undefined), 90_000);
    // 6 pods: 30 ordered pairs.
    expect(out).toMatch(/^30\/30 reachable$/m);
  });

  it('status lists the reflectors with their sessions, apart from attached namespaces', async () => {
    const out = await t.lab(['status']);
    expect(out).toMatch(/^REFLECTOR +ADDRESS +BGP SESSIONS\nrr1 +10\.0\.0\.201\/24 +7\/7 up\nrr2 +10\.0\.0\.202\/24 +7\/7 up$/m);
    expect(out).not.toContain('ATTACHED');
  });

  it("tortiectl node status inside a reflector reads its GoBGP API; tortie-rr's JSON log names the node once per line", async () => {
    const out = await t.lab(['exec', 'rr1', '--', CTL_CMD, ...CTL_ARGV, 'node', 'status']);
    expect(out).toMatch(/^Tortie process is running\./);
    const lines = readFileSync(join(t.stateDir, 'rr1.log'), 'utf8').split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.match(/"node":/g)?.length ?? 0, l).toBeLessThanOrEqual(1);
  });

  it('node kill / start work on a reflector: rr1 comes back with every session', async () => {
    expect(await t.lab(['node', 'kill', 'rr1'])).toBe('SIGKILL sent to 1 tortie-rr process(es) on rr1\n');
    expect(await t.lab(['node', 'start', 'rr1'])).toBe('tortie-rr started on rr1\n');
    await eventually(async () => {
      const peers = await withApi(`unix:${t.stateDir}/rr1-gobgp.sock`, (c) => c.peers()).catch((): PeerStatus[] => []);
      return peers.filter((p) => p.state === 'Established').length === 7 ? true : undefined;
    }, 90_000);
  });
});
