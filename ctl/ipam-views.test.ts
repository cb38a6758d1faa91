import { describe, expect, it } from 'vitest';
import { createMemoryStore, type EtcdStore } from '../datastore/backends/index.js';
import { ResourceClient, ValidationError } from '../datastore/client.js';
import { IPAM_CONFIG_KEY, ipamHandleKey } from '../datastore/keys.js';
import { IpamClient } from '../ipam/allocator.js';
import { putPool } from '../ipam/testing.js';
import { toTable } from './format.js';
import { cidrName, listIpamView } from './ipam-views.js';

async function allocated(): Promise<EtcdStore> {
  const be = createMemoryStore();
  await putPool(be, 'p4', { cidr: '10.244.0.0/16' });
  await putPool(be, 'p6', { cidr: 'fd00:10::/64' });
  const ipam = new IpamClient(be);
  await ipam.autoAssign({ handleId: 'k8s-pod-network.a', hostname: 'node-1', num4: 2, num6: 1 });
  await ipam.autoAssign({ handleId: 'k8s-pod-network.b', hostname: 'node-2', num4: 1 });
  return be;
}

describe('IPAM records as v3 resources', () => {
  it('names blocks by CIDR as Calico does', () => {
    expect(cidrName('10.244.0.0/26')).toBe('10-244-0-0-26');
    expect(cidrName('fd00:10::/122')).toBe('fd00-10---122');
  });

  it('lists every block, affinity and handle in the store', async () => {
    const be = await allocated();
    const blocks = await listIpamView(be, 'IPAMBlock');
    expect(blocks.items.map((b) => b.metadata.name)).toEqual(['10-244-0-0-26', '10-244-0-64-26', 'fd00-10---122']);
    expect(blocks.items[0].spec).toMatchObject({ cidr: '10.244.0.0/26', affinity: 'host:node-1', deleted: false });
    expect(toTable('IPAMBlock', false, blocks.items, true).split('\n')[1].split(/\s+/)).toEqual(['10-244-0-0-26', '10.244.0.0/26', 'host:node-1', '2/64', 'false']);

    const affs = await listIpamView(be, 'BlockAffinity');
    expect(affs.items.map((a) => [a.metadata.name, (a.spec as { state: string }).state])).toEqual([
      ['node-1-10-244-0-0-26', 'confirmed'],
      ['node-1-fd00-10---122', 'confirmed'],
      ['node-2-10-244-0-64-26', 'confirmed'],
    ]);
    expect(affs.items[0].spec).toEqual({ state: 'confirmed', node: 'node-1', cidr: '10.244.0.0/26', type: 'host', deleted: 'false' });

    const handles = await listIpamView(be, 'IPAMHandle');
    expect(handles.items.map((h) => h.metadata.name)).toEqual(['k8s-pod-network.a', 'k8s-pod-network.b']);
    expect(toTable('IPAMHandle', false, handles.items, false)).toBe('NAME                IPS\nk8s-pod-network.a   3\nk8s-pod-network.b   1\n');
  });

  it('lists an unreadable record with its problem instead of hiding it or failing', async () => {
    const be = createMemoryStore();
    await be.kv.create(ipamHandleKey('broken'), '{not json');
    const handles = await listIpamView(be, 'IPAMHandle');
    expect(handles.items).toHaveLength(1);
    expect(handles.items[0].status).toMatchObject({ error: expect.stringMatching(/not JSON/) });
  });

  it('shows the IPAMConfig in force (Calico\'s /calico/ipam/v2/config on etcd), or nothing', async () => {
    const be = createMemoryStore();
    expect((await listIpamView(be, 'IPAMConfig')).items).toEqual([]);
    await be.kv.create(IPAM_CONFIG_KEY, JSON.stringify({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 }));
    expect((await listIpamView(be, 'IPAMConfig')).items[0].spec).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 4 });
    await new ResourceClient(be).apply({ apiVersion: 'projectcalico.org/v3', kind: 'IPAMConfig', metadata: { name: 'default' }, spec: { maxBlocksPerHost: 2 } });
    const cfg = (await listIpamView(be, 'IPAMConfig')).items;
    expect(cfg).toHaveLength(1);
    expect(cfg[0].spec).toMatchObject({ maxBlocksPerHost: 2, strictAffinity: false });
    expect(JSON.parse((await be.kv.get(IPAM_CONFIG_KEY))?.value ?? '')).toEqual({ strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 2 });
  });

  it('refuses to write or delete blocks, affinities and handles through the resource client', async () => {
    const be = await allocated();
    const client = new ResourceClient(be);
    const block = (await listIpamView(be, 'IPAMBlock')).items[0];
    const before = await be.kv.list('/');
    await expect(client.applyAll([block])).rejects.toThrow(ValidationError);
    await expect(client.applyAll([block])).rejects.toThrow(/IPAMBlock is kept by IPAM and is read-only/);
    await expect(client.deleteAll([block])).rejects.toThrow(/read-only/);
    await expect(client.delete('ipamhandle', 'k8s-pod-network.a')).rejects.toThrow(/IPAMHandle is kept by IPAM/);
    expect((await be.kv.list('/')).items).toEqual(before.items);
  });
});
