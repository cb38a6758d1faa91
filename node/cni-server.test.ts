// The CNI socket end to end over a real unix socket: the plugin's client (cni/agent-client.ts)
// against the server on an in-memory datastore. Bad requests are answered with an error, never a crash.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../datastore/backends/index.js';
import { IpamClient } from '../ipam/allocator.js';
import { putNode, putPool } from '../ipam/testing.js';
import { AgentAbsent, AgentStore } from '../cni/agent-client.js';
import { CniError } from '../cni/errors.js';
import { CniServer } from './cni-server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function serve(): Promise<{ server: CniServer; path: string }> {
  const be = createMemoryStore();
  await putPool(be, 'p', { cidr: '10.9.0.0/24', blockSize: 28 });
  await putNode(be, 'n1');
  const dir = mkdtempSync(join(tmpdir(), 'tortie-cni-sock-'));
  const path = join(dir, 'sub', 'cni.sock');
  const server = new CniServer({ path, store: be, ipam: new IpamClient(be), log: pino({ level: 'silent' }) });
  await server.start();
  cleanups.push(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, path };
}

const wep = (containerID: string): Record<string, unknown> => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: 'n1-k8s-pod-eth0', namespace: 'default' },
  spec: { node: 'n1', containerID, ipNetworks: ['10.9.0.0/32'] },
});

describe('tortie-node CNI socket', () => {
  it('serves assign, endpoint writes and release to the plugin client; only root may connect', async () => {
    const { path } = await serve();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const c = await AgentStore.open(path, Date.now() + 5000);
    const req = { handle: 'net.c1', node: 'n1', attrs: { node: 'n1' }, num4: 1, num6: 0 };
    const ips = await c.assign(req);
    expect(ips).toHaveLength(1);
    // A retried ADD gets the same address.
    expect(await c.assign(req)).toEqual(ips);
    await c.putEndpoint(wep('c1'));
    await c.putEndpoint(wep('c1'));
    expect(await c.hasEndpoint({ namespace: 'default', name: 'n1-k8s-pod-eth0' })).toBe(true);
    // A DEL for another sandbox leaves this one's endpoint.
    await c.removeEndpoint({ namespace: 'default', name: 'n1-k8s-pod-eth0' }, 'old');
    expect(await c.hasEndpoint({ namespace: 'default', name: 'n1-k8s-pod-eth0' })).toBe(true);
    expect(await c.removeEndpoint({ namespace: 'default', name: 'n1-k8s-pod-eth0' }, 'c1')).toEqual(['10.9.0.0/32']);
    await c.release('net.c1');
    expect(await c.held('net.c1')).toEqual([]);
    await c.close();
  });

  it('answers malformed requests with a CNI error and keeps serving', async () => {
    const { server, path } = await serve();
    expect(await server.handle('{nope')).toMatchObject({ ok: false, code: 6 });
    expect(await server.handle('{"op":"constructor","args":[]}')).toMatchObject({ ok: false, code: 6 });
    expect(await server.handle('null')).toMatchObject({ ok: false, code: 6 });
    expect(await server.handle('{"op":"removeEndpoint","args":[null,"c"]}')).toMatchObject({ ok: false });
    const c = await AgentStore.open(path, Date.now() + 5000);
    await expect(c.assign({ handle: 'net.c2', node: 'n1', attrs: {}, num4: 1, num6: 0, ipv4Pools: ['missing'] })).rejects.toBeInstanceOf(CniError);
    expect(await c.assign({ handle: 'net.c2', node: 'n1', attrs: {}, num4: 1, num6: 0 })).toHaveLength(1);
    await c.close();
  });

  it('a datastore that does not answer by the deadline gets "try again later" (CNI 11), which runtimes retry', async () => {
    const be = createMemoryStore();
    await putPool(be, 'p', { cidr: '10.9.0.0/24', blockSize: 28 });
    await putNode(be, 'n1');
    // Every datastore call from now on hangs, as etcd does under a 20-host start on a loaded machine.
    const hung = new Proxy(be, {
      get: (t, p, r) => {
        const v = Reflect.get(t, p, r) as unknown;
        return typeof v === 'function' ? () => new Promise(() => undefined) : v;
      },
    });
    const server = new CniServer({ path: '/nonexistent/unused.sock', store: hung, ipam: new IpamClient(hung), log: pino({ level: 'silent' }) });
    const assign = (handle: string): string => JSON.stringify({ op: 'assign', args: [{ handle, node: 'n1', attrs: {}, num4: 1, num6: 0 }], deadline: Date.now() + 300 });
    // The second waits in line behind the first (block writes run one at a time): both are answered by the deadline.
    const [first, second] = await Promise.all([server.handle(assign('net.h1')), server.handle(assign('net.h2'))]);
    // Both name the datastore and where it is, the queued one too: the runtime's log says where to look.
    const named = expect.stringContaining(`the datastore (${be.description}) did not answer`);
    expect(first).toMatchObject({ ok: false, code: 11, msg: named });
    expect(second).toMatchObject({ ok: false, code: 11, msg: named });
  });

  it('a socket nobody serves is "absent" to the client, so the plugin can take its own path', async () => {
    const { server, path } = await serve();
    await server.stop();
    await expect(AgentStore.open(path, Date.now() + 5000)).rejects.toBeInstanceOf(AgentAbsent);
  });
});
