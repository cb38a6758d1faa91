// `tortiectl node status` reads the speaker's one management API, GoBGP's gRPC API, here on a unix
// socket: calicoctl's table from a real speaker with one peer that cannot connect, and a process
// that is not there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GobgpApiServer } from '../../bgp/api/gobgp/server.js';
import { Speaker } from '../../bgp/speaker/speaker.js';
import { nodeStatus } from '../../ctl/commands/node-status.js';
import { waitFor } from '../harness/daemon.js';

describe('node status over the GoBGP API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-api-'));
  const sock = `unix:${join(dir, 'sub', 'gobgp.sock')}`;
  const log = pino({ level: 'silent' });
  let speaker: Speaker;
  let api: GobgpApiServer;

  beforeAll(async () => {
    speaker = new Speaker({ asNumber: 64512, routerId: '10.0.0.1', listenPort: 0, connectRetryTime: 1 }, { onRoute: () => {} }, log);
    // Nothing listens on 127.0.0.2:1: the session fails to connect, and says why.
    await speaker.start([
      { name: 'Mesh_127_0_0_2', address: '127.0.0.2', asNumber: 64512, type: 'mesh', port: 1 },
      { name: 'Node_fd00__9', address: 'fd00::9', asNumber: 65001, type: 'node', passive: true },
    ]);
    api = new GobgpApiServer({ speaker: () => speaker, log });
    await api.listen([`unix://${join(dir, 'sub', 'gobgp.sock')}`]);
  });

  afterAll(async () => {
    await api.close();
    await speaker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints calicoctl's tables: peer address, type, state, since, why a session is down", async () => {
    const r = await waitFor('connect failure reported', async () => {
      const x = await nodeStatus(sock);
      return x.text.includes('ECONNREFUSED') ? x : undefined;
    });
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/^Tortie process is running\.\n\nIPv4 BGP status\n/);
    expect(r.text).toMatch(/\| 127\.0\.0\.2 +\| node-to-node mesh \| start \| \d\d:\d\d:\d\d \| (Active|Connect|Idle) .*ECONNREFUSED/);
    expect(r.text).toMatch(/\| fd00::9 +\| node specific +\| start +\| \d\d:\d\d:\d\d \| Active +\|/);
  });

  it('a missing process is reported, exit code 1', async () => {
    const r = await nodeStatus(`unix:${join(dir, 'absent.sock')}`);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^Tortie process is not running\.\ncannot reach the BGP process at unix:.*absent\.sock: /);
  });
});
