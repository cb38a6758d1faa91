// Bad input on the Kubernetes datastore, as processes see it: tortiectl and the CNI plugin given a
// kubeconfig that does not exist, one whose apiserver is not there (nothing listening, or a listener
// that never answers), one whose certificate-authority is not the apiserver's, and objects the
// apiserver or tortiectl refuses. Each gives a clear error naming the thing within 5 s, a non-zero
// exit, and writes nothing: no object, no IPAM handle, no pod annotation, no interface.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { putPool } from '../../ipam/testing.js';
import { run } from '../harness/exec.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';
import { NetnsSet } from '../harness/netns.js';
import { freePort } from '../harness/ports.js';
import { makeCa } from '../harness/tls.js';
import { ctl, ensureBuilt } from '../integration/ctl-helpers.js';
import { writePluginWrappers } from './cni-helpers.js';

// The goal is an answer within 5 s (met on a quiet machine: the silent apiserver is given up on
// after the 2 s handshake budget, the CNI ADD after its timeout_seconds 3). The tests assert only
// that it comes promptly rather than hanging, with room for a loaded CI machine.
const PROMPT_MS = 10_000;

interface Plugin {
  code: number | null;
  out: { code?: number; msg?: string } | undefined;
  raw: string;
  ms: number;
}

describe('Kubernetes datastore: bad input to tortiectl and the CNI plugin', () => {
  const nets = new NetnsSet('kb');
  let kube: KubeApiserver;
  let store: KubernetesStore;
  let dir = '';
  let binDir = '';
  let sandbox = '';
  let silent: Server | undefined;
  const silentSockets: Socket[] = [];
  const bad: Record<'missing' | 'refused' | 'silent' | 'wrongCa' | 'garbage', string> = { missing: '', refused: '', silent: '', wrongCa: '', garbage: '' };
  let refusedServer = '';

  /** The apiserver's own kubeconfig with the server or CA swapped. */
  function kubeconfig(name: string, server: string, caFile: string): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}", certificate-authority: "${caFile}"}}]\n` +
        `users: [{name: u, user: {client-certificate: "${join(kube.dir, 'admin.crt')}", client-key: "${join(kube.dir, 'admin.key')}"}}]\n` +
        'contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    return path;
  }

  const kdd = (kc: string): Record<string, string> => ({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kc, ETCD_ENDPOINTS: '' });

  function plugin(kc: string, pod: string, extra: Record<string, unknown> = {}): Promise<Plugin> {
    const started = Date.now();
    const conf = {
      cniVersion: '1.0.0',
      name: 'k8s-pod-network',
      type: 'calico',
      datastore_type: 'kubernetes',
      nodename: 'bad-node',
      ipam: { type: 'calico-ipam' },
      kubernetes: { kubeconfig: kc },
      agent_socket: join(dir, 'no-agent.sock'),
      // kubelet's retries are its own: an unreachable datastore is retried for the command's budget only.
      timeout_seconds: 3,
      ...extra,
    };
    const env = {
      PATH: process.env.PATH ?? '',
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: `bad-${pod}`,
      CNI_NETNS: `/var/run/netns/${sandbox}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=bad-${pod}`,
    };
    return new Promise((resolve) => {
      const child = execFile(join(binDir, 'calico'), [], { env, encoding: 'utf8', timeout: 60_000 }, (_err, stdout) => {
        let out: Plugin['out'];
        try {
          out = JSON.parse(stdout) as Plugin['out'];
        } catch {
          out = undefined;
        }
        resolve({ code: child.exitCode, out, raw: stdout, ms: Date.now() - started });
      });
      child.stdin?.end(JSON.stringify(conf));
    });
  }

  /** Nothing of the pod was written: no handle, no address annotation, no interface in its sandbox. */
  async function nothingWritten(pod: string): Promise<void> {
    expect((await store.list('IPAMHandle')).items.map((o) => o.key.name)).toEqual([]);
    const { stdout } = await kube.kubectl(['get', 'pod', pod, '-o', 'jsonpath={.metadata.annotations}']);
    expect(stdout).not.toContain('cni.projectcalico.org/podIP');
    expect((await nets.exec(sandbox, ['ip', '-o', 'link'])).stdout).not.toContain('eth0');
  }

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tortie-kdd-bad-'));
    binDir = join(dir, 'bin');
    await run('mkdir', ['-p', binDir]);
    writePluginWrappers(binDir, { calico: 'tortie', 'calico-ipam': 'tortie-ipam' });
    kube = await startKubeWithCalicoCrds();
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig });
    await putPool(store, 'bad-pool', { cidr: '10.234.0.0/16' });
    await kube.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'bad-node' } }, ...['p1', 'p2', 'p3', 'p4', 'p5'].map(pod)] }),
    });
    sandbox = await nets.add('s');
    silent = createServer((s) => silentSockets.push(s));
    await new Promise<void>((r) => silent?.listen(0, '127.0.0.1', r));
    refusedServer = `https://127.0.0.1:${await freePort()}`;
    const otherCa = await makeCa(dir, 'not-the-apiservers-ca');
    bad.missing = join(dir, 'no-such-kubeconfig');
    bad.refused = kubeconfig('refused', refusedServer, kube.caFile);
    bad.silent = kubeconfig('silent', `https://127.0.0.1:${(silent.address() as { port: number }).port}`, kube.caFile);
    bad.wrongCa = kubeconfig('wrong-ca', kube.server, otherCa.cert);
    bad.garbage = join(dir, 'garbage');
    writeFileSync(bad.garbage, 'this: [is not a kubeconfig\n');
  }, 300_000);

  afterAll(async () => {
    await nets.cleanup();
    silentSockets.forEach((s) => s.destroy());
    silent?.close();
    await store?.close();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const pod = (name: string): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: 'bad-node', containers: [{ name: 'c', image: 'pause' }] },
  });

  describe('tortiectl', () => {
    const cases: [keyof typeof bad, RegExp][] = [
      ['missing', /no-such-kubeconfig: no such file/],
      ['garbage', /garbage/],
      ['refused', /connection refused/],
      ['silent', /no answer within/],
      ['wrongCa', /certificate/],
    ];
    for (const [which, message] of cases) {
      it(`a ${which} kubeconfig: exit non-zero within 5 s, naming it`, async () => {
        const t0 = Date.now();
        const r = await ctl(['get', 'ippools'], { env: kdd(bad[which]) });
        expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(message);
        if (which === 'refused') expect(r.stderr).toContain(refusedServer);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      });
    }

    it('apply of a file whose second document the CRD schema refuses: names it, exits non-zero, writes neither', async () => {
      const file = join(dir, 'two.yaml');
      writeFileSync(
        file,
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: first-pool}\nspec: {cidr: 10.71.0.0/16}\n---\n' +
          'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: second-pool}\nspec: {cidr: 10.72.0.0/16, blockSize: big}\n',
      );
      const t0 = Date.now();
      const r = await ctl(['apply', '-f', file], { env: kdd(kube.kubeconfig) });
      expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/second-pool/);
      expect(r.stderr).toMatch(/blockSize/);
      expect(await store.get({ kind: 'IPPool', name: 'first-pool' })).toBeUndefined();
      expect(await store.get({ kind: 'IPPool', name: 'second-pool' })).toBeUndefined();
    });

    it('a write the Kubernetes datastore refuses (a kns. Profile) names why and writes nothing', async () => {
      const file = join(dir, 'profile.yaml');
      writeFileSync(file, 'apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: kns.default}\nspec: {}\n');
      const r = await ctl(['apply', '-f', file], { env: kdd(kube.kubeconfig) });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/kns\.default/);
      expect(r.stderr).toMatch(/Namespace/);
    });
  });

  describe('CNI plugin (datastore_type kubernetes)', () => {
    it('a kubeconfig that does not exist: invalid config naming kubernetes.kubeconfig, at once, nothing written', async () => {
      const r = await plugin(bad.missing, 'p1');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatchObject({ code: 7 });
      expect(r.out?.msg).toMatch(/kubernetes\.kubeconfig: .*no-such-kubeconfig: no such file/);
      expect(r.ms).toBeLessThan(PROMPT_MS);
      await nothingWritten('p1');
    });

    it('no kubeconfig at all with datastore_type kubernetes: invalid config naming the field', async () => {
      const r = await plugin('', 'p2');
      expect(r.out).toMatchObject({ code: 7 });
      expect(r.out?.msg).toMatch(/kubernetes\.kubeconfig/);
      await nothingWritten('p2');
    });

    for (const [which, pod, message] of [
      ['refused', 'p3', /connection refused|ECONNREFUSED/],
      ['silent', 'p4', /no answer within/],
      ['wrongCa', 'p5', /certificate/],
    ] as const) {
      it(`a ${which} apiserver: the error names it within 5 s (timeout_seconds 3), nothing written`, async () => {
        const r = await plugin(bad[which], pod);
        expect(r.code).not.toBe(0);
        expect(r.out?.code).toBeGreaterThan(0);
        expect(r.out?.msg).toMatch(message);
        expect(r.ms).toBeLessThan(PROMPT_MS);
        expect(r.raw).not.toMatch(/\n\s+at /);
        await nothingWritten(pod);
      });
    }

    it('a malformed cni.projectcalico.org/ipv4pools annotation names the annotation; nothing written', async () => {
      await kube.kubectl(['annotate', 'pod', 'p1', 'cni.projectcalico.org/ipv4pools=not-a-list', '--overwrite']);
      const r = await plugin(kube.kubeconfig, 'p1');
      expect(r.out).toMatchObject({ code: 7 });
      expect(r.out?.msg).toMatch(/cni\.projectcalico\.org\/ipv4pools/);
      await nothingWritten('p1');
    });
  });
});
