// Nothing lost when the Kubernetes API goes away: a lab on the Kubernetes datastore (3 hosts, BGP
// mesh), every pod pinging every other and a pod churn of about two ADDs and two DELs a second,
// while kube-apiserver is SIGKILLed and kept down for 60 s, then started. No ping lost, no kernel
// route, rule, iptables or ipset change on a node while it is away, no BGP session re-established,
// no address handed out twice, `tortiectl ipam check` clean, every failed ADD names the apiserver
// and the same pod starts once it is back; and after the resync each node's kernel state is what it
// was before the outage (the churned pods gone): the watches' reconnect re-lists without a
// spurious delete or add.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, podManifest } from '../../lab/kube.js';
import type { LabNode, LabState } from '../../lab/state.js';
import { kernelSnapshot, labState, snapshotDiff, underLoad, type ChurnPodSource, type FaultFigures } from './ds-fault-load.js';
import { eventually, testLab } from './lab-helpers.js';

const OUTAGE_MS = 60_000;
const t = testLab('kf');
process.env.TORTIE_LAB_STATE = t.stateDir; // the CNI driver the churn uses (and kubectl here) find the lab there
let s: LabState;
const figures: FaultFigures[] = [];

const apiserver = async (): Promise<string | undefined> => (JSON.parse(await t.lab(['status', '-o', 'json'])) as { apiserver?: string }).apiserver;

/**
 * The churn's Pods, made before the outage and bound to their nodes, as the kubelets were given
 * them before the apiserver went away; each is handed out once (a retry after recovery reuses its pod).
 */
async function podPool(tag: string, nodes: readonly LabNode[], perNode: number): Promise<ChurnPodSource> {
  const items = nodes.flatMap((n) => Array.from({ length: perNode }, (_, k) => podManifest({ name: `churn-${tag}-${n.name}-${k + 1}`, namespace: 'default', node: n.name, labels: { 'tortie-churn': tag } })));
  await kubectl(s, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const list = JSON.parse(await kubectl(s, ['get', 'pods', '-n', 'default', '-l', `tortie-churn=${tag}`, '-o', 'json'])) as { items: Array<{ metadata: { name: string; uid: string }; spec: { nodeName: string } }> };
  const free = new Map<string, Array<{ name: string; uid: string }>>();
  for (const p of list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }))) {
    free.set(p.spec.nodeName, [...(free.get(p.spec.nodeName) ?? []), { name: p.metadata.name, uid: p.metadata.uid }]);
  }
  return { take: (node) => free.get(node.name)?.shift() };
}

describe('lab: the network keeps working while kube-apiserver is away', () => {
  beforeAll(async () => {
    await t.lab(['up', '--datastore', 'kubernetes', '--nodes', '3', '--pods-per-node', '1']);
    s = labState(t.stateDir);
  }, 420_000);
  afterAll(async () => {
    // The figures the README's "Datastore faults" section quotes.
    process.stdout.write(`datastore-fault figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}\n`);
    await t.down();
  }, 120_000);

  it('kube-apiserver SIGKILLed and kept down for 60 s, then started: nothing lost, nothing changed', async () => {
    expect(await apiserver()).toBe('running');
    // At most ~2 ADDs a second (2/3 a node) over the 65 s outage and a resync of up to 3 min, one
    // Pod each; the pool running dry would read as "no new pod after recovery".
    const pods = await podPool('ao', s.nodes, 170);
    const before = await Promise.all(s.nodes.map((n) => kernelSnapshot(n)));
    await underLoad({ t, s, namesDatastore: /kubernetes at https:\/\/10\.0\.0\.2:6443/, figures }, 'apiserver-kill', {
      watched: ['node1', 'node2', 'node3'],
      holdMs: OUTAGE_MS,
      pods,
      inject: async () => {
        expect(await t.lab(['apiserver', 'kill'])).toMatch(/SIGKILL sent to 1 kube-apiserver/);
        expect(await apiserver()).toBe('down');
      },
      recover: async () => {
        await t.lab(['apiserver', 'start']);
        expect(await apiserver()).toBe('running');
      },
    });
    expect(figures.at(-1)?.addsFailed, 'ADDs were tried while the apiserver was gone').toBeGreaterThan(0);
    // After the resync, with the churned pods deleted: every node's kernel state as before the outage.
    const diffs = async (): Promise<string[][]> => Promise.all(s.nodes.map(async (n, i) => snapshotDiff(before[i] ?? [], await kernelSnapshot(n))));
    await eventually(async () => ((await diffs()).every((d) => d.length === 0) ? true : undefined), 60_000).catch(() => undefined);
    expect(await diffs(), 'kernel state after the resync against before the outage (routes, rules, iptables, ipsets)').toEqual(s.nodes.map(() => []));
    await kubectl(s, ['delete', 'pods', '-n', 'default', '-l', 'tortie-churn', '--grace-period=0', '--force', '--wait=false']);
  }, 600_000);
});
