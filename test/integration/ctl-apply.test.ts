// tortiectl against a real etcd, through the built CLI: apply of the seed's v1 forms and of Calico's
// v3 documents lands at Calico's keys; get -o yaml re-applies unchanged; every bad input exits
// non-zero with a clear message and leaves the store byte-for-byte unchanged.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { IpamClient } from '../../ipam/allocator.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { ROOT, ctl, ensureBuilt, etcdGetPrefix, snapshot } from './ctl-helpers.js';

let etcd: EtcdServer;
let tmp: string;
let env: Record<string, string>;

const example = (f: string) => join(ROOT, 'manifests', 'examples', f);
const fixture = (f: string) => join(ROOT, 'test', 'fixtures', 'ctl', f);

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

async function expectRejectedUnchanged(args: string[], message: RegExp, input?: string): Promise<string> {
  const before = await snapshot(etcd.endpoint);
  const r = await ctl(args, { env, input });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(await snapshot(etcd.endpoint)).toBe(before);
  return r.stderr;
}

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'tortie-ctl-'));
  etcd = await startEtcd();
  env = { ETCD_ENDPOINTS: etcd.endpoint, DATASTORE_TYPE: 'etcdv3' };
});

afterAll(async () => {
  await etcd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('tortiectl apply against etcd', () => {
  it("applies the seed's v1 ipPool and bgpPeer as pasted (flat, no-break spaces)", async () => {
    const pool = await ctl(['apply', '-f', fixture('seed-v1-ippool-flat.yaml')], { env });
    expect(pool.stderr).toBe('');
    expect(pool.stdout).toBe("Successfully applied 1 'IPPool' resource(s)\n");
    const peer = await ctl(['apply', '-f', '-'], { env, input: readFileSync(fixture('seed-v1-bgppeer-flat.yaml'), 'utf8') });
    expect(peer.stdout).toBe("Successfully applied 1 'BGPPeer' resource(s)\n");
    const v = JSON.parse((await ctl(['get', 'ippool', '10-200-0-0-16', '-o', 'json'], { env })).stdout);
    expect(v.spec).toMatchObject({ cidr: '10.200.0.0/16', ipipMode: 'CrossSubnet', natOutgoing: true, vxlanMode: 'Never' });
    // The seed pipes the same peer into `calicoctl delete -f -`: that works too, then we put it back.
    const seedPeer = readFileSync(fixture('seed-v1-bgppeer-flat.yaml'), 'utf8');
    expect((await ctl(['delete', '-f', '-'], { env, input: seedPeer })).stdout).toBe("Successfully deleted 1 'BGPPeer' resource(s)\n");
    expect((await ctl(['get', 'bgppeer', '10-10-10-1'], { env })).code).toBe(1);
    expect((await ctl(['apply', '-f', '-'], { env, input: seedPeer })).code).toBe(0);
  });

  it('applies the indented v1 forms and the v3 IPPool / BGPPeer / BGPConfiguration / Node examples', async () => {
    for (const f of ['v1-ippool.yaml', 'v1-bgppeer.yaml', 'ippool.yaml', 'bgppeer.yaml', 'bgpconfig.yaml', 'node.yaml']) {
      const r = await ctl(['apply', '-f', example(f)], { env });
      expect(r.stderr, f).toBe('');
      expect(r.code, f).toBe(0);
      expect(r.stdout).toMatch(/^Successfully applied \d+ '(IPPool|BGPPeer|BGPConfiguration|Node)' resource\(s\)\n$/);
    }
  });

  it("etcdctl shows the pools at Calico's paths as Calico's JSON (no resourceVersion)", async () => {
    const out = await etcdGetPrefix(etcd.endpoint, '/calico/resources/v3/projectcalico.org/ippools/');
    const lines = out.trim().split('\n');
    expect(lines).toContain('/calico/resources/v3/projectcalico.org/ippools/10-200-0-0-16');
    expect(lines).toContain('/calico/resources/v3/projectcalico.org/ippools/my.ippool-1');
    const value = JSON.parse(lines[lines.indexOf('/calico/resources/v3/projectcalico.org/ippools/my.ippool-1') + 1]);
    expect(value).toMatchObject({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'my.ippool-1' }, spec: { cidr: '10.1.0.0/16', ipipMode: 'CrossSubnet' } });
    expect(value.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(value.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(value.metadata.resourceVersion).toBeUndefined();
    const peers = await etcdGetPrefix(etcd.endpoint, '/calico/resources/v3/projectcalico.org/bgppeers/');
    expect(peers).toContain('/calico/resources/v3/projectcalico.org/bgppeers/some.name');
    expect(await etcdGetPrefix(etcd.endpoint, '/calico/resources/v3/projectcalico.org/bgpconfigurations/default')).toContain('"asNumber":63400');
    expect(await etcdGetPrefix(etcd.endpoint, '/calico/resources/v3/projectcalico.org/nodes/node-hostname')).toContain('10.244.0.1/24');
  });

  it('get prints calicoctl tables', async () => {
    const wide = await ctl(['get', 'ippools', '-o', 'wide'], { env });
    const rows = wide.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(['NAME', 'CIDR', 'NAT', 'IPIPMODE', 'VXLANMODE', 'DISABLED', 'DISABLEBGPEXPORT', 'SELECTOR']);
    expect(rows).toContainEqual(['10-200-0-0-16', '10.200.0.0/16', 'true', 'CrossSubnet', 'Never', 'false', 'false', 'all()']);
    const peers = await ctl(['get', 'bgpPeers'], { env });
    expect(peers.stdout.split('\n')[0].split(/\s+/)).toEqual(['NAME', 'PEERIP', 'NODE', 'ASN']);
    expect(peers.stdout).toMatch(/some\.name\s+192\.168\.1\.1\s+rack1-host1\s+63400/);
    const nodes = await ctl(['get', 'nodes', '-o', 'wide'], { env });
    expect(nodes.stdout).toMatch(/^NAME\s+ASN\s+IPV4\s+IPV6\n/);
    expect(nodes.stdout).toMatch(/node-hostname\s+64512\s+10\.244\.0\.1\/24\s+2001:db8:85a3::8a2e:370:7334\/120/);
  });

  it('get -o yaml output (lists and single resources) re-applies with the store unchanged', async () => {
    for (const kind of ['ippools', 'bgppeers', 'bgpconfigurations', 'nodes']) {
      const y = await ctl(['get', kind, '-o', 'yaml'], { env });
      expect(y.code).toBe(0);
      const before = await snapshot(etcd.endpoint);
      const r = await ctl(['apply', '-f', file(`${kind}.yaml`, y.stdout)], { env });
      expect(r.stderr, kind).toBe('');
      expect(r.code).toBe(0);
      expect(await snapshot(etcd.endpoint)).toBe(before);
    }
    const one = await ctl(['get', 'ippool', 'my.ippool-1', '-o', 'yaml'], { env });
    expect(one.stdout).toMatch(/^apiVersion: projectcalico.org\/v3\nkind: IPPool\n/);
    const before = await snapshot(etcd.endpoint);
    expect((await ctl(['apply', '-f', '-'], { env, input: one.stdout })).code).toBe(0);
    const json = await ctl(['get', 'ippools', '-o', 'json'], { env });
    expect((await ctl(['apply', '-f', '-'], { env, input: json.stdout })).code).toBe(0);
    expect(await snapshot(etcd.endpoint)).toBe(before);
  });
});

describe('tortiectl get of IPAM records', () => {
  it('lists the blocks, affinities and handles IPAM wrote, and refuses to write them back', async () => {
    const be = new EtcdBackend({ endpoints: [etcd.endpoint] });
    try {
      await new IpamClient(new EtcdStore(be)).autoAssign({ handleId: 'k8s-pod-network.ctl1', hostname: 'ctl-node', num4: 2, ipv4Pools: ['10-200-0-0-16'] });
    } finally {
      await be.close();
    }
    const blocks = await ctl(['get', 'ipamblocks', '-o', 'wide'], { env });
    expect(blocks.stdout).toMatch(/^NAME\s+CIDR\s+AFFINITY\s+IN USE\s+DELETED\n10-200-0-0-26\s+10\.200\.0\.0\/26\s+host:ctl-node\s+2\/64\s+false\n$/);
    const affs = await ctl(['get', 'blockaffinities'], { env });
    expect(affs.stdout).toMatch(/ctl-node-10-200-0-0-26\s+ctl-node\s+10\.200\.0\.0\/26\s+confirmed/);
    const handles = await ctl(['get', 'ipamhandles'], { env });
    expect(handles.stdout).toMatch(/k8s-pod-network\.ctl1\s+2\n/);
    const y = await ctl(['get', 'ipamblock', '10-200-0-0-26', '-o', 'yaml'], { env });
    expect(y.stdout).toMatch(/^apiVersion: projectcalico.org\/v3\nkind: IPAMBlock\n/);
    await expectRejectedUnchanged(['apply', '-f', '-'], /IPAMBlock is kept by IPAM and is read-only here; use `tortiectl ipam release`/, y.stdout);
  });
});

describe('tortiectl rejects bad input and writes nothing', () => {
  const good = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: fresh-pool
spec:
  cidr: 172.16.0.0/16
`;

  it('broken YAML: file, line and column', async () => {
    const f = file('broken.yaml', `${good}---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: [10.9.0.0/16\n`);
    const msg = await expectRejectedUnchanged(['apply', '-f', f], /broken\.yaml:\d+:\d+: invalid YAML/);
    const [, line] = /broken\.yaml:(\d+):/.exec(msg) ?? [];
    expect(Number(line)).toBeGreaterThan(7);
  });

  it('a pool overlapping a stored pool (the valid document before it is not written either)', async () => {
    const f = file('overlap.yaml', `${good}---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: inside\nspec:\n  cidr: 10.200.5.0/24\n`);
    await expectRejectedUnchanged(['apply', '-f', f], /document 2 \(IPPool 'inside'\): spec\.cidr: .*overlaps IPPool '10-200-0-0-16'/);
  });

  it('two pools overlapping each other within one file', async () => {
    const f = file('overlap2.yaml', `${good}---\n${good.replace('fresh-pool', 'fresh-2').replace('172.16.0.0/16', '172.16.128.0/17')}`);
    await expectRejectedUnchanged(['create', '-f', f], /overlaps/);
  });

  it('a bad CIDR names document, kind, name and field', async () => {
    const f = file('badcidr.yaml', `${good}---\n${good.replace('fresh-pool', 'bad').replace('172.16.0.0/16', '10.300.0.0/16')}`);
    await expectRejectedUnchanged(['apply', '-f', f], /document 2 \(IPPool 'bad'\): spec\.cidr: /);
  });

  it("a stored pool's CIDR cannot be changed, by apply or by patch (as in Calico)", async () => {
    const moved = `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: 10-200-0-0-16\nspec:\n  cidr: 10.211.0.0/16\n`;
    await expectRejectedUnchanged(['apply', '-f', '-'], /document 1 \(IPPool '10-200-0-0-16'\): spec\.cidr: IPPool CIDR cannot be modified \(10\.200\.0\.0\/16 → 10\.211\.0\.0\/16\)/, moved);
    await expectRejectedUnchanged(['patch', 'ippool', '10-200-0-0-16', '-p', '{"spec":{"cidr":"10.211.0.0/16"}}'], /IPPool CIDR cannot be modified/);
  });

  it('a non-canonical CIDR', async () => {
    await expectRejectedUnchanged(['apply', '-f', '-'], /document 1 \(IPPool 'fresh-pool'\): spec\.cidr: /, good.replace('172.16.0.0/16', '172.16.0.1/16'));
  });

  it('an unknown field', async () => {
    await expectRejectedUnchanged(['apply', '-f', '-'], /document 1 \(IPPool 'fresh-pool'\): spec\.natOutgoin: unknown field/, `${good}  natOutgoin: true\n`);
  });

  it('ipip and vxlan both on', async () => {
    await expectRejectedUnchanged(['apply', '-f', '-'], /document 1 \(IPPool 'fresh-pool'\): spec\.\w+: .*(ipipMode.*vxlanMode|vxlanMode.*ipipMode)/, `${good}  ipipMode: Always\n  vxlanMode: Always\n`);
  });

  it('create of an existing resource', async () => {
    await expectRejectedUnchanged(['create', '-f', example('ippool.yaml')], /already exists/);
  });

  it('delete -f naming a missing resource deletes nothing', async () => {
    await expectRejectedUnchanged(['delete', '-f', '-'], /does not exist/, `${readFileSync(example('ippool.yaml'), 'utf8')}---\n${good}`);
  });

  it('a missing file', async () => {
    await expectRejectedUnchanged(['apply', '-f', join(tmp, 'nope.yaml')], /nope\.yaml: no such file/);
  });
});

describe('tortiectl edits', () => {
  it('patch, label, config set/get, delete', async () => {
    expect((await ctl(['patch', 'ippool', 'my.ippool-1', '-p', '{"spec":{"natOutgoing":false}}'], { env })).stdout).toBe("Successfully patched 1 'IPPool' resource(s)\n");
    expect((await ctl(['label', 'nodes', 'node-hostname', 'rack=r1'], { env })).code).toBe(0);
    const clash = await ctl(['label', 'nodes', 'node-hostname', 'rack=r2'], { env });
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/--overwrite/);
    expect((await ctl(['label', 'nodes', 'node-hostname', 'rack=r2', '--overwrite'], { env })).code).toBe(0);
    expect(JSON.parse((await ctl(['get', 'node', 'node-hostname', '-o', 'json'], { env })).stdout).metadata.labels).toEqual({ rack: 'r2' });
    expect((await ctl(['label', 'nodes', 'node-hostname', 'rack-'], { env })).code).toBe(0);

    expect((await ctl(['config', 'set', 'nodeToNodeMesh', 'off'], { env })).code).toBe(0);
    expect((await ctl(['config', 'get', 'nodeToNodeMesh'], { env })).stdout).toBe('off\n');
    expect((await ctl(['config', 'set', 'asNumber', '64513'], { env })).code).toBe(0);
    expect((await ctl(['config', 'get', 'asNumber'], { env })).stdout).toBe('64513\n');
    const cfg = JSON.parse((await ctl(['get', 'bgpconfig', 'default', '-o', 'json'], { env })).stdout);
    expect(cfg.spec).toMatchObject({ nodeToNodeMeshEnabled: false, asNumber: 64513, logSeverityScreen: 'Info' });

    const del = await ctl(['delete', '-f', example('bgppeer.yaml')], { env });
    expect(del.stdout).toBe("Successfully deleted 2 'BGPPeer' resource(s)\n");
    expect((await ctl(['delete', 'ippool', 'my.ippool-1'], { env })).stdout).toBe("Successfully deleted 1 'IPPool' resource(s)\n");
    const gone = await ctl(['get', 'ippool', 'my.ippool-1'], { env });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/does not exist: IPPool\(my\.ippool-1\)/);
  });

  it('reads a calicoctl.cfg (v1 calicoApiConfig) given with --config', async () => {
    const cfg = file('tortiectl.cfg', `apiVersion: v1\nkind: calicoApiConfig\nmetadata:\nspec:\n  etcdEndpoints: ${etcd.endpoint}\n`);
    const r = await ctl(['--config', cfg, 'get', 'ippools'], { env: { ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^NAME\s+CIDR\s+SELECTOR\n/);
  });
});

describe('tortiectl failures a person can act on', () => {
  it('unreachable datastore: exit 1 naming the endpoint and a hint, no stack trace', async () => {
    // A refused connection is reported at once and a silent one after the 3 s call budget (next
    // test), which is what keeps tortiectl within 5 s; the kill limits here only catch a hang, since
    // Node's own start-up takes seconds when the machine is busy.
    const port = await freePort();
    const r = await ctl(['get', 'ippools'], { env: { ETCD_ENDPOINTS: `http://127.0.0.1:${port}` }, timeoutMs: 20_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/connection refused \(nothing listens there\); check that etcd is running/);
    const w = await ctl(['apply', '-f', example('ippool.yaml')], { env: { ETCD_ENDPOINTS: `http://127.0.0.1:${port}` }, timeoutMs: 20_000 });
    expect(w.timedOut).toBe(false);
    expect(w.code).toBe(1);
    expect(w.stderr).toContain(`127.0.0.1:${port}`);
  });

  it('an endpoint that accepts but never answers: exit 1 naming it and the 3 s budget, no hang', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      // The budget (not the wall clock, which depends on machine load) is what keeps this under 5 s.
      const r = await ctl(['get', 'ippools'], { env: { ETCD_ENDPOINTS: `http://127.0.0.1:${port}` }, timeoutMs: 20_000 });
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*no answer within 3000 ms; check that etcd is running`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("a config read with a guess says so: the seed's flat calicoApiConfig warns and still works", async () => {
    const cfg = file('flat.cfg', `apiVersion: v1\nkind: calicoApiConfig\nmetadata:\nspec:\netcdEndpoints: ${etcd.endpoint}\n`);
    const r = await ctl(['--config', cfg, 'get', 'ippools'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: ${cfg}: etcdEndpoints should be indented under spec; read them as spec fields\n`);
    expect(r.stdout).toMatch(/^NAME\s+CIDR\s+SELECTOR\n/);
  });

  it('usage errors exit 2', async () => {
    expect((await ctl(['frobnicate'], { env })).code).toBe(2);
    expect((await ctl(['get'], { env })).code).toBe(2);
    expect((await ctl(['get', 'ippools', '-o', 'xml'], { env })).code).toBe(2);
    expect((await ctl(['apply'], { env })).code).toBe(2);
    expect((await ctl(['label', 'node', 'n1', 'bad'], { env })).code).toBe(2);
    expect((await ctl(['config', 'set', 'nodeToNodeMesh', 'maybe'], { env })).code).toBe(2);
    const help = await ctl(['--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/apply/);
  });
});
