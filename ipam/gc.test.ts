import { describe, expect, it } from 'vitest';
import { createMemoryStore, type EtcdStore } from '../datastore/backends/index.js';
import type { StoredValue } from '../datastore/store.js';
import { IpamClient } from './allocator.js';
import { affinityKey, affinityValue, handleKey, handleValue } from './records.js';
import { checkIpam } from './check.js';
import { IpamGc } from './gc.js';
import { putNode, putPool } from './testing.js';

async function setup(): Promise<{ be: EtcdStore; ipam: IpamClient; clock: { t: number }; gc: IpamGc }> {
  const be = createMemoryStore();
  await putPool(be, 'p', { cidr: '10.0.0.0/24', blockSize: 28 });
  await putNode(be, 'n1');
  const ipam = new IpamClient(be, { retry: { attempts: 50, backoffMs: 0 } });
  const clock = { t: 1000 };
  return { be, ipam, clock, gc: new IpamGc(ipam, { graceMs: 60_000, now: () => clock.t }) };
}

const wep = (ns: string, pod: string, ip: string, cid: string): StoredValue => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: pod, namespace: ns },
  spec: { ipNetworks: [`${ip}/32`], containerID: cid },
});

describe('ipam check and GC', () => {
  it('reports leaks, tunnel addresses of missing nodes, pending affinities and blocks of deleted nodes', async () => {
    const { be, ipam } = await setup();
    const a = await ipam.autoAssign({ handleId: 'k8s-pod-network.c1', hostname: 'n1', num4: 1 });
    await be.create(wep('default', 'n1-k8s-a-eth0', a.ipv4[0].ip, 'c1'));
    await ipam.autoAssign({ handleId: 'k8s-pod-network.c2', hostname: 'n1', num4: 1 }); // no WEP: leak
    await ipam.autoAssign({ handleId: 'ipip-tunnel-addr-n1', hostname: 'n1', num4: 1 }); // node exists: fine
    await ipam.autoAssign({ handleId: 'ipip-tunnel-addr-gone', hostname: 'gone', num4: 1 }); // node missing
    await be.create(affinityValue('n1', '10.0.0.240/28', 'pending'));
    const r = await checkIpam(be);
    expect(r.summary).toMatchObject({ allocations: 4, leaked: 2, duplicates: 0, pendingAffinities: 1, blocksOfDeletedNodes: 1, handleMismatches: 0 });
    expect(r.leaks.map((l) => l.reason).sort()).toEqual(['no-workload-endpoint', 'tunnel-of-missing-node']);
  });

  it('releases a leak only after seeing it twice across the grace period, and cleans stale affinities', async () => {
    const { be, ipam, gc, clock } = await setup();
    await ipam.autoAssign({ handleId: 'k8s-pod-network.c2', hostname: 'n1', num4: 2 });
    await be.create(affinityValue('n1', '10.0.0.240/28', 'pending'));
    expect((await gc.runOnce()).releasedIps).toEqual([]);
    clock.t += 30_000;
    expect((await gc.runOnce()).releasedIps).toEqual([]); // seen twice, but within grace
    clock.t += 31_000;
    const p = await gc.runOnce();
    expect(p.releasedIps.sort()).toEqual(['10.0.0.0', '10.0.0.1']);
    expect(p.removedAffinities).toEqual(['n1/10.0.0.240/28']);
    const r = await checkIpam(be);
    expect(r.summary).toMatchObject({ allocations: 0, leaked: 0, affinityProblems: 0 });
  });

  it('is all-or-nothing per handle and never frees a re-allocated address', async () => {
    const { be, ipam, gc, clock } = await setup();
    const a = await ipam.autoAssign({ handleId: 'k8s-pod-network.c3', hostname: 'n1', num4: 2 });
    // One of the two addresses is in use by an endpoint: the handle is not touched.
    await be.create(wep('default', 'x', a.ipv4[0].ip, 'other'));
    await gc.runOnce();
    clock.t += 120_000;
    expect((await gc.runOnce()).releasedIps).toEqual([]);
    // A leak that gets released and re-allocated between passes is a different finding.
    await ipam.releaseByHandle('k8s-pod-network.c3');
    const b = await ipam.autoAssign({ handleId: 'k8s-pod-network.c4', hostname: 'n1', num4: 1 });
    await gc.runOnce();
    clock.t += 120_000;
    await ipam.releaseByHandle('k8s-pod-network.c4');
    const c = await ipam.autoAssign({ handleId: 'k8s-pod-network.c5', hostname: 'n1', num4: 1 });
    const p = await gc.runOnce();
    expect(p.releasedIps).toEqual([]);
    void b;
    void c;
  });

  it('confirms the pending affinity of a claimer that died after creating its block, and frees blocks of deleted nodes', async () => {
    const { be, ipam, gc, clock } = await setup();
    const a = await ipam.autoAssign({ handleId: 'h', hostname: 'n1', num4: 1 });
    const aff = (await be.get(affinityKey('n1', a.ipv4[0].block)))!;
    await be.update(affinityValue('n1', a.ipv4[0].block, 'pending'), aff.revision);
    await ipam.autoAssign({ handleId: 'g', hostname: 'dead', num4: 1 });
    await ipam.releaseByHandle('g');
    await gc.runOnce();
    clock.t += 61_000;
    const p = await gc.runOnce();
    expect(p.confirmedAffinities).toEqual([`n1/${a.ipv4[0].block}`]);
    expect(p.releasedBlocks).toEqual(['10.0.0.16/28']);
    expect((await checkIpam(be)).summary).toMatchObject({ affinityProblems: 0, blocksOfDeletedNodes: 0, blocks: 1 });
  });

  it('sets a handle that counts more than its blocks hold (an allocator died between its two writes) to what they hold', async () => {
    const { be, ipam, gc, clock } = await setup();
    const a = await ipam.autoAssign({ handleId: 'k8s-pod-network.c7', hostname: 'n1', num4: 1 });
    await be.create(wep('default', 'p7', a.ipv4[0].ip, 'c7'));
    // The allocator counted a second address on the handle, then died before writing the block.
    const h = (await be.get(handleKey('k8s-pod-network.c7')))!;
    await be.update(handleValue({ handleID: 'k8s-pod-network.c7', block: { [a.ipv4[0].block]: 2 }, deleted: false }), h.revision);
    expect((await checkIpam(be)).handleMismatches).toMatchObject([{ handle: 'k8s-pod-network.c7', handleCount: 2, blockCount: 1 }]);
    expect((await checkIpam(be)).summary).toMatchObject({ duplicates: 0, leaked: 0 });
    await gc.runOnce();
    clock.t += 61_000;
    expect((await gc.runOnce()).correctedHandles).toEqual(['k8s-pod-network.c7']);
    expect((await checkIpam(be)).summary).toMatchObject({ handleMismatches: 0, allocations: 1, leaked: 0 });
    expect(await ipam.releaseByHandle('k8s-pod-network.c7')).toEqual([a.ipv4[0].ip]);
    expect(await be.get(handleKey('k8s-pod-network.c7'))).toBeUndefined();
  });
});
