// One allocator process, as a CNI ADD would behave: allocate one IPv4 address per "pod", then write
// its WorkloadEndpoint. Used by the concurrency/chaos integration tests and by bench/ipam.ts.
//   node --import tsx bench/ipam-worker.ts <etcd-endpoint> <host> <worker-id> <count> [generation]
// Prints one JSON line per pod ({ip, pod}) and a final {done, ms, calls}.
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { EtcdStore } from '../datastore/backends/etcd-store.js';
import { IpamClient } from '../ipam/allocator.js';
import { CountingBackend } from './ipam-counting.js';

async function main(): Promise<void> {
  const [endpoint, host, id, countText, gen = '0'] = process.argv.slice(2);
  const count = Number(countText);
  const be = new CountingBackend(new EtcdBackend({ endpoints: [endpoint], callTimeoutMs: 20_000 }));
  const store = new EtcdStore(be);
  const ipam = new IpamClient(store, {
    retry: { attempts: 1000, backoffMs: 4 },
    claimPhaseDelayMs: Number(process.env.TORTIE_IPAM_CLAIM_DELAY_MS ?? 0),
  });
  const t0 = Date.now();
  let made = 0;
  for (let i = 0; i < count; i++) {
    const pod = `w${id}-${i}`;
    const wepName = `${host}-k8s-${pod.replace(/-/g, '--')}-eth0`;
    if (await store.get({ kind: 'WorkloadEndpoint', name: wepName, namespace: 'default' })) continue; // done by an earlier generation of this worker
    const cid = `${pod}-g${gen}`;
    const r = await ipam.autoAssign({ handleId: `k8s-pod-network.${cid}`, hostname: host, num4: 1, attrs: { namespace: 'default', pod, node: host } });
    const ip = r.ipv4[0].ip;
    await store.create({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: wepName, namespace: 'default' },
      spec: { orchestrator: 'k8s', node: host, pod, endpoint: 'eth0', containerID: cid, ipNetworks: [`${ip}/32`], interfaceName: 'cali0' },
    });
    made++;
    process.stdout.write(`${JSON.stringify({ ip, pod })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ done: true, made, ms: Date.now() - t0, calls: be.calls })}\n`);
  await store.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`ipam-worker: ${(e as Error).message}\n`);
  process.exit(1);
});
