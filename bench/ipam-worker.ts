// One allocator process, as a CNI ADD would behave: allocate one IPv4 address per "pod", then write
// its WorkloadEndpoint. Used by the concurrency/chaos integration tests and by bench/ipam.ts.
//   node --import tsx bench/ipam-worker.ts <etcd-endpoint> <host> <worker-id> <count> [generation]
// Prints one JSON line per pod ({ip, pod}) and a final {done, ms, calls}.
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { resourceKey } from '../datastore/keys.js';
import { IpamClient } from '../ipam/allocator.js';
import { CountingBackend } from './ipam-counting.js';

async function main(): Promise<void> {
  const [endpoint, host, id, countText, gen = '0'] = process.argv.slice(2);
  const count = Number(countText);
  const be = new CountingBackend(new EtcdBackend({ endpoints: [endpoint], callTimeoutMs: 20_000 }));
  const ipam = new IpamClient(be, {
    retry: { attempts: 1000, backoffMs: 4 },
    claimPhaseDelayMs: Number(process.env.TORTIE_IPAM_CLAIM_DELAY_MS ?? 0),
  });
  const t0 = Date.now();
  let made = 0;
  for (let i = 0; i < count; i++) {
    const pod = `w${id}-${i}`;
    const wepKey = resourceKey('workloadendpoints', `${host}-k8s-${pod.replace(/-/g, '--')}-eth0`, 'default');
    if (await be.get(wepKey)) continue; // done by an earlier generation of this worker
    const cid = `${pod}-g${gen}`;
    const r = await ipam.autoAssign({ handleId: `k8s-pod-network.${cid}`, hostname: host, num4: 1, attrs: { namespace: 'default', pod, node: host } });
    const ip = r.ipv4[0].ip;
    await be.create(
      wepKey,
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: { name: `${host}-k8s-${pod.replace(/-/g, '--')}-eth0`, namespace: 'default' },
        spec: { orchestrator: 'k8s', node: host, pod, endpoint: 'eth0', containerID: cid, ipNetworks: [`${ip}/32`], interfaceName: 'cali0' },
      }),
    );
    made++;
    process.stdout.write(`${JSON.stringify({ ip, pod })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ done: true, made, ms: Date.now() - t0, calls: be.calls })}\n`);
  await be.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`ipam-worker: ${(e as Error).message}\n`);
  process.exit(1);
});
