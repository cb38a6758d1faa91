// The pod read of a CNI ADD (cni/k8s.ts) against a real kube-apiserver: one kept-alive connection per
// kubeconfig file, and a rewritten file (install-cni refreshing its token) is read again.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPod } from '../../cni/k8s.js';
import { startKubeApiserver, type KubeApiserver } from '../harness/kube.js';
import { freePort } from '../harness/ports.js';

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

  it('an apiserver that cannot be reached at first is asked again within the budget: one that comes up in time is read', async () => {
    const port = await freePort();
    const text = readFileSync(kube.kubeconfig, 'utf8');
    writeFileSync(kubeconfig, text.replace(kube.server, `https://127.0.0.1:${port}`));
    // A plain TCP relay to the apiserver, listening only 800 ms after the read began.
    const target = new URL(kube.server);
    let relay: Server | undefined;
    const sockets: Socket[] = [];
    const late = setTimeout(() => {
      relay = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) s.on('error', () => undefined);
        sockets.push(client, upstream);
        client.pipe(upstream).pipe(client);
      }).listen(port, '127.0.0.1');
    }, 800);
    try {
      expect((await readPod(kubeconfig, 'shop', 'web', 10_000)).labels).toEqual({ app: 'web' });
    } finally {
      clearTimeout(late);
      sockets.forEach((s) => s.destroy());
      relay?.close();
      writeFileSync(kubeconfig, text);
    }
  });
});
