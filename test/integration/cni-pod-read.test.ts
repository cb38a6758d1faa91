// The pod read of a CNI ADD (cni/k8s.ts) against a real kube-apiserver: one kept-alive connection per
// kubeconfig file, and a rewritten file (install-cni refreshing its token) is read again.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPod } from '../../cni/k8s.js';
import { startKubeApiserver, type KubeApiserver } from '../harness/kube.js';

describe('CNI pod read on a real kube-apiserver', () => {
  let kube: KubeApiserver;
  let kubeconfig: string;

  beforeAll(async () => {
    kube = await startKubeApiserver();
    await kube.kubectl(['create', 'namespace', 'shop']);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, annotations: { 'cni.projectcalico.org/ipv4pools': '["pool-a"]' } }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } };
    await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) });
    kubeconfig = join(kube.dir, 'cni.kubeconfig');
    writeFileSync(kubeconfig, readFileSync(kube.kubeconfig));
  }, 180_000);
  afterAll(async () => kube?.stop());

  it("reads the pod's labels and annotations, read after read", async () => {
    for (let i = 0; i < 3; i++) {
      expect(await readPod(kubeconfig, 'shop', 'web')).toEqual({ labels: { app: 'web' }, annotations: { 'cni.projectcalico.org/ipv4pools': '["pool-a"]' } });
    }
  });

  it('a pod the apiserver does not know is an error naming the kubeconfig and the pod', async () => {
    await expect(readPod(kubeconfig, 'shop', 'ghost')).rejects.toThrow(`kubernetes.kubeconfig ${kubeconfig}: cannot read pod shop/ghost`);
  });

  it('a rewritten kubeconfig is read again: its new server answers, not the old connection', async () => {
    const text = readFileSync(kube.kubeconfig, 'utf8');
    writeFileSync(kubeconfig, text.replace(kube.server, 'https://127.0.0.1:1'));
    await expect(readPod(kubeconfig, 'shop', 'web', 3000)).rejects.toThrow(/cannot reach kubernetes at https:\/\/127\.0\.0\.1:1: connection refused/);
    writeFileSync(kubeconfig, text);
    expect((await readPod(kubeconfig, 'shop', 'web')).labels).toEqual({ app: 'web' });
  });
});
