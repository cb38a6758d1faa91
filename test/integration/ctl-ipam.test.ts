// tortiectl ipam show / check / release / gc through the built CLI against a real etcd: a leak (an
// address whose handle has no WorkloadEndpoint) is found by check, released from the report, and the
// GC loop releases another only on its second sighting.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { resourceKey } from '../../datastore/keys.js';
import { IpamClient } from '../../ipam/allocator.js';
import { putPool } from '../../ipam/testing.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { ctl, ensureBuilt } from './ctl-helpers.js';

let etcd: EtcdServer;
let be: EtcdBackend;
let ipam: IpamClient;
let tmp: string;
let env: Record<string, string>;

async function pod(name: string, withWep: boolean): Promise<string> {
  const r = await ipam.autoAssign({ handleId: `k8s-pod-network.${name}`, hostname: 'ipam-node', num4: 1, attrs: { namespace: 'default', pod: name, node: 'ipam-node' } });
  const ip = r.ipv4[0].ip;
  if (withWep) {
    const wep = `ipam--node-k8s-${name}-eth0`;
    await be.create(
      resourceKey('workloadendpoints', wep, 'default'),
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: wep, namespace: 'default' }, spec: { node: 'ipam-node', pod: name, endpoint: 'eth0', containerID: name, ipNetworks: [`${ip}/32`] } }),
    );
  }
  return ip;
}

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'tortie-ctl-ipam-'));
  etcd = await startEtcd();
  env = { ETCD_ENDPOINTS: etcd.endpoint };
  be = new EtcdBackend({ endpoints: [etcd.endpoint] });
  ipam = new IpamClient(new EtcdStore(be));
  await putPool(new EtcdStore(be), 'default-ipv4-ippool', { cidr: '10.70.0.0/16' });
  await be.create(resourceKey('nodes', 'ipam-node'), JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'ipam-node' }, spec: {} }));
});

afterAll(async () => {
  await be?.close();
  await etcd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('tortiectl ipam against etcd', () => {
  it('show, show --ip, check -o, release --from-report, release --ip', async () => {
    const live = await pod('live', true);
    const leak = await pod('leak', false);
    const blocks = await ctl(['ipam', 'show', '--show-blocks'], { env });
    expect(blocks.stdout).toContain('| IP Pool  | 10.70.0.0/16 | 65536     | 2 (0%)     | 65534 (100%) |');
    expect(blocks.stdout).toContain('| Block    | 10.70.0.0/26 | 64        | 2 (3%)     | 62 (97%)     |');
    expect((await ctl(['ipam', 'show', '--ip', leak], { env })).stdout).toMatch(new RegExp(`^IP ${leak.replace(/\./g, '\\.')} is in use\\nHandle: k8s-pod-network\\.leak\\n`));

    const report = join(tmp, 'report.json');
    const check = await ctl(['ipam', 'check', '-o', report], { env });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/Leaked allocations \(no WorkloadEndpoint \/ tunnel address of a missing node\): 1\n/);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as { leaks: { ip: string; handle: string }[] };
    expect(parsed.leaks).toEqual([expect.objectContaining({ ip: leak, handle: 'k8s-pod-network.leak' })]);

    const rel = await ctl(['ipam', 'release', '--from-report', report], { env });
    expect(rel.stdout).toBe(`Released 1 address(es): ${leak}\n`);
    // The same report again: the address is no longer allocated, nothing else is touched.
    expect((await ctl(['ipam', 'release', '--from-report', report], { env })).stdout).toBe(`Released 0 address(es)\nNot allocated: ${leak}\n`);
    expect((await ipam.ipsByHandle('k8s-pod-network.live'))).toEqual([live]);

    const one = await ctl(['ipam', 'release', '--ip', live], { env });
    expect(one.stdout).toBe(`Released 1 address(es): ${live}\n`);
    const again = await ctl(['ipam', 'release', '--ip', live], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: ${live} was not released\n`);
    expect((await ctl(['ipam', 'release'], { env })).code).toBe(2);
  });

  it('gc --once releases a leak only on its second sighting, one grace period later', async () => {
    const leak = await pod('gcleak', false);
    const kept = await pod('gckept', true);
    const r = await ctl(['ipam', 'gc', '--once', '--grace', '1'], { env, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^pass 1: 1 leak\(s\) seen; released 0 address\(es\)/);
    expect(lines[1]).toMatch(/^pass 2: 1 leak\(s\) seen; released 1 address\(es\) of 1 handle\(s\)/);
    expect(await ipam.ipsByHandle('k8s-pod-network.gcleak')).toEqual([]);
    expect(await ipam.ipsByHandle('k8s-pod-network.gckept')).toEqual([kept]);
    expect(leak).not.toBe(kept);
  });
});
