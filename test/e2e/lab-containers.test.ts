// The lab from the images (`tortie-lab up --containers`): tortie-node runs from tortie/node with
// podman in each host's namespace after install-cni from the same image, the reflectors from
// tortie/rr, all as manifests/ describes them. Pods reach each other over the full mesh and then
// through two reflectors; install-cni leaves exactly the plugins and the conflist on each host; a
// tortie-node container SIGKILLed and started again under continuous ping loses no packet.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('c');
interface St {
  nodes: Array<{ name: string; ready?: string }>;
  pods: Array<{ name: string; ip: string; node: string }>;
}

const containers = async (): Promise<string[]> =>
  (await run('podman', ['ps', '--format', '{{.Names}} {{.Image}}'])).stdout
    .split('\n')
    .filter((l) => l.startsWith(t.prefix))
    .map((l) => l.slice(t.prefix.length))
    .sort();

describe('lab: --containers, from the images and the manifests', () => {
  beforeAll(async () => {
    // `make test` builds the images first (test/e2e/images.test.ts checks the build itself).
    await t.lab(['up', '--containers', '--nodes', '3', '--pods-per-node', '1', '--rr', '2']);
  }, 600_000);
  afterAll(async () => {
    await t.down();
    expect(await containers()).toEqual([]);
  });

  it('runs tortie-node and tortie-rr as containers, and every pod reaches every other through the reflectors', async () => {
    expect(await containers()).toEqual([
      'node1 localhost/tortie/node:0.1.0',
      'node2 localhost/tortie/node:0.1.0',
      'node3 localhost/tortie/node:0.1.0',
      'rr1 localhost/tortie/rr:0.1.0',
      'rr2 localhost/tortie/rr:0.1.0',
    ]);
    const out = await t.lab(['ping']);
    expect(out).toMatch(/^6\/6 reachable$/m); // 3 pods, each to the 2 others
  });

  it('install-cni left exactly the plugins and the conflist on each host', () => {
    for (const n of ['node1', 'node2', 'node3']) {
      expect(readdirSync(join(t.stateDir, n, 'opt-cni-bin')).sort()).toEqual(['portmap', 'tortie', 'tortie-ipam']);
      expect(readdirSync(join(t.stateDir, n, 'etc-cni-net.d'))).toEqual(['10-tortie.conflist']);
    }
  });

  it('a tortie-node container SIGKILLed and started again under continuous ping loses 0 packets', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
    const target = st.pods.find((p) => p.node === 'node2');
    expect(target).toBeDefined();
    const pinger = t.lab(['exec', 'pod-node1-1', '--', 'ping', '-i', '0.2', '-w', '25', '-q', target?.ip ?? '']);
    await new Promise((r) => setTimeout(r, 2000));
    await t.lab(['node', 'kill', 'node2']);
    await new Promise((r) => setTimeout(r, 1000));
    await t.lab(['node', 'start', 'node2']);
    await eventually(async () => {
      const s = JSON.parse(await t.lab(['status', '-o', 'json'])) as St;
      return s.nodes.find((n) => n.name === 'node2')?.ready === 'ready' ? true : undefined;
    }, 60_000);
    const out = await pinger;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(50);
    expect(m?.[2], out).toBe(m?.[1]);
  }, 120_000);
});
