// `tortiectl node status` against the management API on a real unix socket (a fake provider),
// and against a socket nobody listens on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiGet } from '../../bgp/api/client.js';
import { startApiServer } from '../../bgp/api/server.js';
import { nodeStatus } from '../../ctl/commands/node-status.js';

describe('management API and node status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-api-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves JSON and node status renders it', async () => {
    const sock = join(dir, 'sub', 'bgp.sock');
    const api = await startApiServer(
      {
        status: () => ({ process: 'running', routerId: '10.0.0.1', asNumber: 64512, startedAt: '' }),
        peers: () => [
          { name: 'Mesh_10_0_0_2', address: '10.0.0.2', asNumber: 64512, type: 'mesh', state: 'Active', since: new Date().toISOString(), info: 'connect failed: ECONNREFUSED', prefixesReceived: 0, prefixesAccepted: 0, prefixesAdvertised: 0 },
        ],
        routes: () => [],
        installed: () => [{ prefix: '10.1.0.0/26', nextHops: ['10.0.0.2'], sourcePeer: '10.0.0.2' }],
      },
      sock,
    );
    try {
      expect(await apiGet(sock, '/installed')).toEqual([{ prefix: '10.1.0.0/26', nextHops: ['10.0.0.2'], sourcePeer: '10.0.0.2' }]);
      await expect(apiGet(sock, '/nope')).rejects.toThrow(/HTTP 404/);
      const r = await nodeStatus(sock);
      expect(r.code).toBe(0);
      expect(r.text).toContain('| 10.0.0.2     | node-to-node mesh | start |');
      expect(r.text).toContain('Active connect failed: ECONNREFUSED');
      expect(r.text).toContain('No IPv6 peers found.');
    } finally {
      await api.close();
    }
  });

  it('a missing process is reported, exit code 1', async () => {
    const r = await nodeStatus(join(dir, 'absent.sock'));
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^Tortie process is not running\.\ncannot reach the BGP process at .*absent\.sock: ENOENT/);
  });
});
