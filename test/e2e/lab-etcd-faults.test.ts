// Nothing lost when the datastore falters: a lab with a 3-member etcd cluster, every pod pinging
// every other and a pod churn of about two ADDs and two DELs a second, through four faults —
// leader SIGKILLed (twice), all of etcd stopped for 60 s, one node cut off from etcd for 60 s,
// compaction while a node's watches are behind. In each: no ping lost, no kernel route, rule,
// iptables or ipset change on a node while the datastore is away, no BGP session re-established,
// no address handed out twice, `tortiectl ipam check` clean, every failed ADD names the datastore,
// and the same pods start once it is back. One lab serves the scenarios, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labState, underLoad, type FaultFigures, type FaultLab } from './ds-fault-load.js';
import { eventually, testLab } from './lab-helpers.js';
import type { LabState } from '../../lab/state.js';

const OUTAGE_MS = 60_000;
const t = testLab('df');
process.env.TORTIE_LAB_STATE = t.stateDir; // the CNI driver the churn uses finds its plugins there
let s: LabState;

const figures: FaultFigures[] = [];
const fault = (): FaultLab => ({ t, s, namesDatastore: /datastore|etcd/i, figures });

const etcdctl = (args: string[]): Promise<string> => t.exec(t.ns('etcd1'), ['etcdctl', `--endpoints=${s.etcdEndpoint}`, '--command-timeout=5s', ...args]);
const cutFromEtcd = (n: string, on: boolean): Promise<string> =>
  t.exec(t.ns(n), ['iptables', '-t', 'security', on ? '-I' : '-D', 'OUTPUT', '-p', 'tcp', '--dport', '2379', '-j', 'DROP']);

interface Status {
  etcdMembers?: Array<{ name: string; state: string; leader: boolean }>;
  nodes: Array<{ name: string; ready?: string }>;
}
const status = async (): Promise<Status> => JSON.parse(await t.lab(['status', '-o', 'json'])) as Status;
const leader = async (): Promise<string | undefined> => (await status()).etcdMembers?.find((m) => m.leader)?.name;

describe('lab: the network keeps working while etcd falters', () => {
  beforeAll(async () => {
    await t.lab(['up', '--etcd', '3', '--nodes', '3', '--pods-per-node', '1']);
    s = labState(t.stateDir);
  }, 300_000);
  afterAll(async () => {
    // The figures the README's "Datastore faults" section quotes.
    process.stdout.write(`datastore-fault figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}\n`);
    await t.down();
  }, 120_000);

  it('status shows the three members and one leader', async () => {
    const st = await status();
    expect(st.etcdMembers?.map((m) => m.name)).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(st.etcdMembers?.filter((m) => m.leader)).toHaveLength(1);
  });

  it('SIGKILL of the leader, then of a second member after the first returns', async () => {
    await underLoad(fault(), 'leader-kill', {
      watched: ['node1', 'node2', 'node3'],
      holdMs: 0,
      inject: async () => {
        const first = await leader();
        expect(first).toBeDefined();
        await t.lab(['etcd', 'kill', first ?? '']);
        await eventually(async () => leader(), 30_000);
        await new Promise((r) => setTimeout(r, 10_000));
        await t.lab(['etcd', 'start', first ?? '']);
        await eventually(async () => ((await status()).etcdMembers?.every((m) => m.state === 'running') ? true : undefined), 30_000);
        const second = (await leader()) ?? '';
        const victim = second !== first ? second : (['etcd1', 'etcd2', 'etcd3'].find((m) => m !== first) ?? '');
        await t.lab(['etcd', 'kill', victim]);
        await eventually(async () => leader(), 30_000);
        await new Promise((r) => setTimeout(r, 10_000));
        await t.lab(['etcd', 'start', victim]);
      },
      recover: async () => {
        await eventually(async () => ((await status()).etcdMembers?.every((m) => m.state === 'running') ? true : undefined), 30_000);
      },
    });
  }, 300_000);

  it('all members stopped for 60 s, then started', async () => {
    await underLoad(fault(), 'all-stopped', {
      watched: ['node1', 'node2', 'node3'],
      holdMs: OUTAGE_MS,
      inject: async () => {
        for (const m of ['etcd1', 'etcd2', 'etcd3']) await t.lab(['etcd', 'stop', m]);
      },
      recover: async () => {
        for (const m of ['etcd1', 'etcd2', 'etcd3']) await t.lab(['etcd', 'start', m]);
      },
    });
    const f = figures.at(-1);
    expect(f?.addsFailed, 'ADDs were tried while etcd was gone').toBeGreaterThan(0);
  }, 400_000);

  it('one node cut off from etcd for 60 s while the others go on', async () => {
    await underLoad(fault(), 'node-cut', {
      watched: ['node3'],
      holdMs: OUTAGE_MS,
      addErrorsOnlyOn: 'node3',
      inject: () => cutFromEtcd('node3', true).then(() => undefined),
      recover: () => cutFromEtcd('node3', false).then(() => undefined),
    });
  }, 400_000);

  it('compaction while watches are open, and past a node whose watches fell behind', async () => {
    await underLoad(fault(), 'compaction', {
      watched: ['node3'],
      holdMs: 15_000,
      inject: () => cutFromEtcd('node3', true).then(() => undefined),
      recover: async () => {
        // Compact to the newest revision: every open watch is at or past it, node3's is behind.
        const st = JSON.parse(await etcdctl(['-w', 'json', 'endpoint', 'status'])) as Array<{ Status: { header: { revision: number } } }>;
        const rev = Math.max(...st.map((x) => x.Status.header.revision));
        await etcdctl(['compact', String(rev)]);
        await cutFromEtcd('node3', false);
      },
    });
  }, 300_000);
});
