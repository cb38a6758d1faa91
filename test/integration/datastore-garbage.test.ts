// Bad input at the datastore (issue 15): garbage under Calico's etcd keys — not JSON, JSON of the
// wrong shape, another kind under a kind's key, a spec the model rejects, a key of no known kind —
// is logged with its key and skipped by every reader, and nothing valid beside it is lost:
// tortie-node and tortie-rr (real processes in a namespace, on a real etcd), the datastore syncer,
// tortie-controllers' datastore reads, and `tortiectl get`, which lists them as invalid and fails
// only when one was asked for by name.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BgpConfigWatcher } from '../../bgp/datastore-driver.js';
import type { BgpConfig } from '../../bgp/config/types.js';
import { openControllerDatastore } from '../../controllers/datastore.js';
import { EtcdBackend, EtcdStore } from '../../datastore/backends/index.js';
import { ResourceClient } from '../../datastore/client.js';
import { formatInvalid, type InvalidObject } from '../../datastore/invalid.js';
import { Syncer } from '../../datastore/syncer.js';
import { ROUTING_KINDS } from '../../node/agent.js';
import { POLICY_KINDS } from '../../node/policy.js';
import { NetnsDaemon, tempDir, removeTempDir, waitFor } from '../harness/daemon.js';
import { entry, entryArgv } from '../harness/entry.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { run } from '../harness/exec.js';
import { NetnsSet } from '../harness/netns.js';

const R = '/calico/resources/v3/projectcalico.org';
const GARBAGE: Record<string, string> = {
  [`${R}/ippools/bad-notjson`]: 'garbage{',
  [`${R}/ippools/bad-array`]: '[1,2,3]',
  [`${R}/ippools/bad-shape`]: JSON.stringify({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bad-shape' }, spec: { cidr: 12 } }),
  [`${R}/bgppeers/bad-kind`]: JSON.stringify({ kind: 'Widget', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bad-kind' }, spec: {} }),
  [`${R}/nodes/bad-node`]: JSON.stringify({ kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bad-node' }, spec: { bgp: { ipv4Address: 'not-an-ip' } } }),
  [`${R}/workloadendpoints/default/bad-wep`]: 'nope',
  [`${R}/globalnetworkpolicies/bad-gnp`]: JSON.stringify({ kind: 'GlobalNetworkPolicy', apiVersion: 'projectcalico.org/v3', metadata: { name: 'bad-gnp' }, spec: { ingress: 'all' } }),
  [`${R}/widgets/w1`]: '{}',
};
/** The garbage keys a reader of that kind meets (a key of no known kind is under no kind's prefix). */
const BAD_KEYS = Object.keys(GARBAGE).filter((k) => !k.includes('/widgets/'));

const VALID = [
  { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'good-pool' }, spec: { cidr: '10.78.64.0/18', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true } },
  { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'good-peer' }, spec: { peerIP: '10.78.0.9', asNumber: 64512 } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'gb-n2' }, spec: { bgp: { ipv4Address: '10.78.0.2/24' } } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'gb-n3' }, spec: { bgp: { ipv4Address: '10.78.0.3/24' } } },
  { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'good-gnp' }, spec: { selector: 'all()', ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } },
];

const execFileP = promisify(execFile);

describe('garbage under Calico keys in a real etcd: logged with the key, skipped, nothing else lost', () => {
  const nets = new NetnsSet('gb');
  let ns = '';
  let etcd: EtcdServer;
  let store: EtcdStore;
  let dir = '';
  const daemons: NetnsDaemon[] = [];
  // A host-side veth end the namespace reaches etcd through (etcd listens on it).
  const hostIf = `tgb${process.pid % 10000}h`;
  const hostIp = `10.79.${process.pid % 250}.1`;
  const nsIp = `10.79.${process.pid % 250}.2`;

  const tortiectl = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const [cmd, argv] = entry('ctl/main');
    return execFileP(cmd, [...argv, ...args], { env: { ...process.env, DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: etcd.endpoint } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  };
  const logOf = (name: string): string => readFileSync(join(dir, `${name}.log`), 'utf8');
  /** The keys a process logged as invalid and skipped. */
  const skippedKeys = (log: string): Set<string> =>
    new Set(
      log
        .split('\n')
        .filter((l) => l.includes('invalid value in the datastore skipped'))
        .map((l) => (JSON.parse(l) as { key: string }).key),
    );

  beforeAll(async () => {
    dir = tempDir('tortie-garbage-');
    ns = await nets.add('gb');
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns]);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await nets.exec(ns, ['ip', 'addr', 'add', `${nsIp}/30`, 'dev', 'eth1']);
    await nets.exec(ns, ['ip', 'link', 'set', 'eth1', 'up']);
    // The node's and the reflector's addresses (no dummy interfaces on these machines).
    await nets.exec(ns, ['ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'eth1']);
    await nets.exec(ns, ['ip', 'addr', 'add', '10.78.0.100/24', 'dev', 'eth1']);
    etcd = await startEtcd({ host: hostIp });
    const backend = new EtcdBackend({ endpoints: [etcd.endpoint] });
    store = new EtcdStore(backend);
    await new ResourceClient(store).applyAll(VALID);
    for (const [k, v] of Object.entries(GARBAGE)) await backend.create(k, v);
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) await d.kill();
    await store?.close();
    await etcd?.stop();
    await nets.cleanup();
    await run('ip', ['link', 'del', hostIf]).catch(() => undefined);
    if (dir) removeTempDir(dir);
  }, 60_000);

  it('the syncer (tortie-node’s kinds) delivers every valid object and reports each bad one once, with its etcd key', async () => {
    const seen = new Set<string>();
    const bad: InvalidObject[] = [];
    const s = new Syncer({ store, kinds: [...new Set([...ROUTING_KINDS, ...POLICY_KINDS, 'BGPPeer'])], onEvents: (evs) => evs.forEach((e) => e.type === 'update' && seen.add(`${e.object.key.kind}/${e.object.key.name}`)), onInvalid: (b) => bad.push(b) });
    s.start();
    try {
      await waitFor('in sync', async () => (s.status === 'in-sync' ? true : undefined), 20_000);
      expect([...seen].sort()).toEqual(['BGPPeer/good-peer', 'GlobalNetworkPolicy/good-gnp', 'IPPool/good-pool', 'Node/gb-n2', 'Node/gb-n3']);
      expect(bad.map((b) => b.where).sort()).toEqual([...BAD_KEYS].sort());
      expect(bad.map(formatInvalid).sort()).toEqual(
        [
          `${R}/bgppeers/bad-kind: invalid BGPPeer (skipped): holds kind "Widget", not BGPPeer`,
          `${R}/globalnetworkpolicies/bad-gnp: invalid GlobalNetworkPolicy (skipped): spec.ingress: expected array, got string`,
          `${R}/ippools/bad-array: invalid IPPool (skipped): not a JSON object`,
          `${R}/ippools/bad-notjson: invalid IPPool (skipped): not JSON: "garbage{"`,
          `${R}/ippools/bad-shape: invalid IPPool (skipped): spec.cidr: expected string, got number`,
          `${R}/nodes/bad-node: invalid Node (skipped): spec.bgp.ipv4Address: "not-an-ip" is not an IPv4 address in CIDR form (e.g. 10.0.0.5/24)`,
          `${R}/workloadendpoints/default/bad-wep: invalid WorkloadEndpoint (skipped): not JSON: "nope"`,
        ].sort(),
      );
    } finally {
      await s.stop();
    }
  });

  it('the BGP config watcher (tortie-node, tortie-rr) computes peers from the valid objects only, logging the bad ones', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    let cfg: BgpConfig | undefined;
    const w = new BgpConfigWatcher({ store, nodeName: 'gb-n2', log, onConfig: (c) => void (cfg = c) });
    w.start();
    try {
      const got = await waitFor('a BGP config', async () => cfg, 20_000);
      expect(got.peers.map((p) => p.address).sort()).toEqual(['10.78.0.3', '10.78.0.9']);
      expect(skippedKeys(lines.join(''))).toEqual(new Set([`${R}/bgppeers/bad-kind`, `${R}/ippools/bad-notjson`, `${R}/ippools/bad-array`, `${R}/ippools/bad-shape`, `${R}/nodes/bad-node`]));
    } finally {
      await w.stop();
    }
  });

  it('tortie-node and tortie-rr (real processes) stay up, get in sync and log each bad key', async () => {
    const env = (name: string, extra: Record<string, string>): string[] =>
      Object.entries({ PATH: process.env.PATH ?? '', DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: etcd.endpoint, TORTIE_GOBGP_API_HOSTS: `unix://${join(dir, `${name}-gobgp.sock`)}`, ...extra }).map(([k, v]) => `${k}=${v}`);
    const node = new NetnsDaemon(ns, ['env', ...env('node', { NODENAME: 'gb-n1', IP: '10.78.0.1/24', CALICO_NETWORKING_BACKEND: 'bird', TORTIE_CNI_SOCKET: join(dir, 'cni.sock') }), ...entryArgv('node/main')], join(dir, 'node.log'));
    const rr = new NetnsDaemon(ns, ['env', ...env('rr', { IP: '10.78.0.100', CLUSTER_ID: '244.0.0.1', TORTIE_GOBGP_API_HOSTS: '127.0.0.1:50052' }), ...entryArgv('rr/main')], join(dir, 'rr.log'));
    daemons.push(node, rr);
    node.start();
    rr.start();
    const nodeKeys = new Set([...BAD_KEYS]);
    await waitFor(`tortie-node in sync, every bad key logged (log: ${logOf('node').slice(-600)})`, async () => {
      const log = logOf('node');
      return log.includes('"status":"in-sync"') && [...nodeKeys].every((k) => skippedKeys(log).has(k)) ? true : undefined;
    }, 90_000, 250);
    const rrKeys = [`${R}/bgppeers/bad-kind`, `${R}/ippools/bad-notjson`, `${R}/nodes/bad-node`];
    await waitFor(`tortie-rr in sync, the bad keys it reads logged (log: ${logOf('rr').slice(-600)})`, async () => {
      const log = logOf('rr');
      return log.includes('"status":"in-sync"') && rrKeys.every((k) => skippedKeys(log).has(k)) ? true : undefined;
    }, 90_000, 250);
    expect(node.running).toBe(true);
    expect(rr.running).toBe(true);
    // Both registered themselves beside the garbage, and the rest of the store is intact.
    const nodes = (await new ResourceClient(store).list('Node')).items.map((n) => n.metadata.name).sort();
    expect(nodes).toEqual(['gb-n1', 'gb-n2', 'gb-n3', 'rr-10-78-0-100']);
    // Nothing logged at error or fatal level.
    expect(logOf('node')).not.toMatch(/"level":(50|60)/);
    expect(logOf('rr')).not.toMatch(/"level":(50|60)/);
  }, 180_000);

  it('tortie-controllers’ datastore reads skip the bad Nodes and endpoints, telling each once', async () => {
    const told: string[] = [];
    const ds = await openControllerDatastore({ type: 'etcdv3', etcd: { endpoints: [etcd.endpoint] }, source: 'test', warnings: [] }, (b) => told.push(b.where));
    try {
      const nodes = await ds.calicoNodes();
      expect([...(nodes?.keys() ?? [])]).toContain('gb-n2');
      expect(await ds.listWeps()).toEqual([]);
      await ds.calicoNodes();
      expect(told.sort()).toEqual([`${R}/nodes/bad-node`, `${R}/workloadendpoints/default/bad-wep`]);
    } finally {
      await ds.close();
    }
  });

  it('tortiectl get lists the valid objects and the bad ones as INVALID with key and reason (exit 0); asked for by name, exit 1', async () => {
    const pools = await tortiectl(['get', 'ippools']);
    expect(pools.code).toBe(0);
    expect(pools.stdout).toMatch(/^good-pool\s+10\.78\.64\.0\/18/m);
    expect(pools.stdout).toContain('INVALID (skipped by every component):');
    expect(pools.stdout).toContain(`${R}/ippools/bad-notjson: invalid IPPool (skipped): not JSON: "garbage{"`);
    expect(pools.stdout).toContain(`${R}/ippools/bad-shape: invalid IPPool (skipped): spec.cidr: expected string, got number`);
    const json = await tortiectl(['get', 'ippools', '-o', 'json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name)).toEqual(['good-pool']);
    expect(json.stderr).toContain(`warning: ${R}/ippools/bad-array: invalid IPPool (skipped): not a JSON object`);
    const one = await tortiectl(['get', 'ippool', 'bad-notjson']);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain(`error: ${R}/ippools/bad-notjson: invalid IPPool (skipped): not JSON`);
    const weps = await tortiectl(['get', 'workloadendpoints', '-A']);
    expect(weps.code).toBe(0);
    expect(weps.stdout).toContain(`${R}/workloadendpoints/default/bad-wep: invalid WorkloadEndpoint (skipped): not JSON: "nope"`);
  });
});
