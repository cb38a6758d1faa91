// The tortie CNI plugin on the Kubernetes datastore, as Calico's calico.conf configures it
// (`datastore_type: kubernetes`, `kubernetes.kubeconfig`), against a real kube-apiserver: 100
// plugin processes ADD at once for 100 Pods spread over 5 Nodes, each pod in a network namespace
// the test made. The plugins read each Pod, allocate from IPAM blocks kept as CRDs and patch the
// cni.projectcalico.org/podIP(s) annotations on pods/status. Then the same with plugin processes
// SIGKILLed mid-ADD, retried as kubelet retries a failed sandbox (DEL, then ADD with a new container).
//
// The plugins run in the test's own network namespace, where the apiserver listens on loopback:
// their host-side veths and /32 routes to 10.233.0.0/16 live there until DEL (or the pod
// namespace's removal) takes them away.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import type { CheckReport } from '../../ipam/check.js';
import { putPool } from '../../ipam/testing.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';
import { NetnsSet } from '../harness/netns.js';
import { run } from '../harness/exec.js';
import { ctl } from '../integration/ctl-helpers.js';
import { writePluginWrappers } from './cni-helpers.js';

const NODES = Array.from({ length: 5 }, (_, i) => `kdd-node-${i}`);
const PODS = 100;
const NAMESPACE = 'kdd';
const POOL = '10.233.0.0/16';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown> | undefined;
  raw: string;
  ms: number;
}

describe('CNI plugin on the Kubernetes datastore: 100 concurrent ADDs over 5 nodes', () => {
  const nets = new NetnsSet('kd');
  let kube: KubeApiserver;
  let store: KubernetesStore;
  let dir = '';
  let binDir = '';
  /** Each test's pods get their own network namespaces: `sandboxes[prefix][i]`. */
  const sandboxes: Record<string, string[]> = {};
  const prefixOf = (pod: string): string => pod.replace(/\d+$/, '');

  const netconf = (node: string): Record<string, unknown> => ({
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'calico',
    datastore_type: 'kubernetes',
    nodename: node,
    ipam: { type: 'calico-ipam' },
    kubernetes: { kubeconfig: kube.kubeconfig },
    // No tortie-node here: the plugin must take its own path to the datastore.
    agent_socket: join(dir, 'no-agent.sock'),
    // 100 processes start at once on a shared 2-core machine.
    timeout_seconds: 600,
  });

  const podNode = (i: number): string => NODES[i % NODES.length];

  /** Runs the plugin as kubelet would for pod `name`; `killAfterMs` SIGKILLs it that long after start. */
  function plugin(command: 'ADD' | 'DEL', name: string, i: number, cid: string, killAfterMs?: number): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve) => {
      const env = {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: command,
        CNI_CONTAINERID: cid,
        CNI_NETNS: `/var/run/netns/${sandboxes[prefixOf(name)][i]}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: binDir,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NAMESPACE};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=uid-${name}`,
      };
      const child = execFile(join(binDir, 'calico'), [], { env, encoding: 'utf8', killSignal: 'SIGKILL' }, (err, stdout) => {
        let out: Record<string, unknown> | undefined;
        try {
          out = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          out = undefined;
        }
        resolve({ code: child.exitCode, signal: child.signalCode, out, raw: stdout, ms: Date.now() - started });
        void err;
      });
      if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      child.stdin?.end(JSON.stringify(netconf(podNode(i))));
    });
  }

  async function makePods(prefix: string): Promise<void> {
    sandboxes[prefix] = [];
    for (let i = 0; i < PODS; i++) sandboxes[prefix].push(await nets.add(`${prefix}${i}`));
    const items = Array.from({ length: PODS }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${prefix}${i}`, namespace: NAMESPACE, labels: { app: prefix, idx: String(i) } },
      spec: { nodeName: podNode(i), containers: [{ name: 'c', image: 'pause' }] },
    }));
    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  }

  async function podAnnotations(prefix: string): Promise<Map<string, Record<string, string>>> {
    const { stdout } = await kube.kubectl(['get', 'pods', '-n', NAMESPACE, '-l', `app=${prefix}`, '-o', 'json']);
    const list = JSON.parse(stdout) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
    return new Map(list.items.map((p) => [p.metadata.name, p.metadata.annotations ?? {}]));
  }

  async function ipamCheck(): Promise<CheckReport> {
    const file = join(dir, `check-${Date.now()}.json`);
    const r = await ctl(['ipam', 'check', '-o', file], { env: kddEnv(), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(readFileSync(file, 'utf8')) as CheckReport;
  }

  /** For a failure message: each affinity the check found wrong, with its block. */
  async function affinityDetails(check: CheckReport): Promise<unknown[]> {
    const blocks = new Map((await store.list('IPAMBlock')).items.map((o) => [(o.value.spec as { cidr: string }).cidr, o.value.spec as { affinity?: string }]));
    return check.affinities.map((a) => ({ ...a, blockAffinity: blocks.get(a.cidr)?.affinity ?? 'no block' }));
  }

  const kddEnv = (): Record<string, string> => ({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kube.kubeconfig, ETCD_ENDPOINTS: '' });

  const address = (r: Run): string => String((r.out?.ips as { address: string }[] | undefined)?.[0]?.address ?? '').split('/')[0];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-cni-kdd-'));
    binDir = join(dir, 'bin');
    await run('mkdir', ['-p', binDir]);
    writePluginWrappers(binDir, { calico: 'tortie', 'calico-ipam': 'tortie-ipam' });
    kube = await startKubeWithCalicoCrds();
    await kube.kubectl(['create', 'namespace', NAMESPACE]);
    const nodes = NODES.map((name) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } }));
    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }) });
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig });
    // /29 blocks: 20 pods per node need three blocks each, so claims race all the time.
    await putPool(store, 'kdd-pool', { cidr: POOL, blockSize: 29 });
  }, 300_000);

  afterAll(async () => {
    await nets.cleanup();
    await store?.close();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let addMs: number[] = [];

  it('100 ADDs at once: 100 distinct addresses, recorded on the Pods; DEL frees all; ipam check clean', async () => {
    await makePods('a');
    const adds = await Promise.all(Array.from({ length: PODS }, (_, i) => plugin('ADD', `a${i}`, i, `a${process.pid}c${i}`)));
    // Should an ADD fail, the addresses the others took are given back, so the next test starts clean.
    onTestFailed(async () => {
      await Promise.all(Array.from({ length: PODS }, (_, i) => plugin('DEL', `a${i}`, i, `a${process.pid}c${i}`)));
    });
    for (const r of adds) expect(r.code, r.raw).toBe(0);
    addMs = adds.map((r) => r.ms).sort((x, y) => x - y);
    const ips = adds.map(address);
    expect(new Set(ips).size).toBe(PODS);
    for (const ip of ips) expect(ip.startsWith('10.233.')).toBe(true);

    // Where Calico's CNI plugin records them: the pod's annotations, through pods/status.
    const ann = await podAnnotations('a');
    for (let i = 0; i < PODS; i++) {
      expect(ann.get(`a${i}`)?.['cni.projectcalico.org/podIP']).toBe(`${ips[i]}/32`);
      expect(ann.get(`a${i}`)?.['cni.projectcalico.org/containerID']).toBe(`a${process.pid}c${i}`);
    }
    const weps = (await store.list('WorkloadEndpoint', NAMESPACE)).items;
    expect(weps.filter((w) => (w.value.spec as { ipNetworks: string[] }).ipNetworks.length === 1)).toHaveLength(PODS);

    const check = await ipamCheck();
    expect(check.summary, JSON.stringify(await affinityDetails(check))).toMatchObject({ allocations: PODS, leaked: 0, duplicates: 0, affinityProblems: 0, handleMismatches: 0, corrupt: 0 });
    // Each node's addresses come from blocks affine to it.
    const affs = (await store.list('BlockAffinity')).items.map((o) => o.value.spec as { node: string; state: string });
    expect(new Set(affs.map((a) => a.node))).toEqual(new Set(NODES));
    expect(affs.every((a) => a.state === 'confirmed')).toBe(true);

    const dels = await Promise.all(Array.from({ length: PODS }, (_, i) => plugin('DEL', `a${i}`, i, `a${process.pid}c${i}`)));
    for (const r of dels) expect(r.code, r.raw).toBe(0);
    const after = await ipamCheck();
    expect(after.summary).toMatchObject({ allocations: 0, leaked: 0, duplicates: 0, handleMismatches: 0 });
    expect((await store.list('IPAMHandle')).items).toEqual([]);
    for (const a of (await podAnnotations('a')).values()) expect(a['cni.projectcalico.org/podIP']).toBeUndefined();
  }, 1_200_000);

  it('with plugins SIGKILLed mid-ADD and retried as kubelet does, addresses stay distinct; check reports what Calico does, gc repairs it, DEL frees all', async () => {
    await makePods('k');
    // Kill every third plugin at a random moment within the span ADDs took above, so kills land
    // anywhere from start-up to a half-written claim.
    const span = addMs.length ? addMs[Math.floor(addMs.length / 2)] : 5000;
    const cid = (i: number, gen: number): string => `k${process.pid}c${i}g${gen}`;
    const first = await Promise.all(
      Array.from({ length: PODS }, (_, i) => plugin('ADD', `k${i}`, i, cid(i, 0), i % 3 === 0 ? Math.floor(Math.random() * span * 1.5) : undefined)),
    );
    const killed = first.flatMap((r, i) => (r.signal === 'SIGKILL' ? [i] : []));
    expect(killed.length).toBeGreaterThan(0);
    for (const [i, r] of first.entries()) if (!killed.includes(i)) expect(r.code, r.raw).toBe(0);

    // What a crash leaves is never a duplicate; half-made claims show as Calico reports them.
    const mid = await ipamCheck();
    expect(mid.summary.duplicates).toBe(0);

    // kubelet tears a failed sandbox down (DEL) and makes a new one (ADD, new container ID).
    const retried = await Promise.all(
      killed.map(async (i) => {
        const d = await plugin('DEL', `k${i}`, i, cid(i, 0));
        expect(d.code, d.raw).toBe(0);
        return plugin('ADD', `k${i}`, i, cid(i, 1));
      }),
    );
    for (const r of retried) expect(r.code, r.raw).toBe(0);
    const byPod = first.map((r, i) => (killed.includes(i) ? retried[killed.indexOf(i)] : r));
    const ips = byPod.map(address);
    expect(new Set(ips).size).toBe(PODS);

    // Pending affinities a killed claimer left are confirmed or removed by the GC.
    const gc = await ctl(['ipam', 'gc', '--grace', '1', '--once'], { env: kddEnv(), timeoutMs: 120_000 });
    expect(gc.code, gc.stderr).toBe(0);
    const check = await ipamCheck();
    expect(check.summary).toMatchObject({ allocations: PODS, leaked: 0, duplicates: 0, pendingAffinities: 0, affinityProblems: 0, handleMismatches: 0, corrupt: 0 });
    process.stdout.write(`cni-kdd chaos: ${killed.length} plugins killed; mid-run check ${JSON.stringify(mid.summary)}; gc: ${gc.stdout.trim().replace(/\n/g, ' | ')}\n`);

    const dels = await Promise.all(byPod.map((_, i) => plugin('DEL', `k${i}`, i, killed.includes(i) ? cid(i, 1) : cid(i, 0))));
    for (const r of dels) expect(r.code, r.raw).toBe(0);
    const after = await ipamCheck();
    expect(after.summary).toMatchObject({ allocations: 0, leaked: 0, duplicates: 0, handleMismatches: 0 });
    expect((await store.list('IPAMHandle')).items).toEqual([]);
  }, 1_200_000);
});
