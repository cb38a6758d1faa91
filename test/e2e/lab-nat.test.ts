// natOutgoing: a pod reaching an address outside every pool arrives with its node's address as
// source; with natOutgoing off it arrives with the pod's own address.
import { afterAll, describe, expect, it } from 'vitest';
import { testLab, type TestLab } from './lab-helpers.js';
import { run } from '../harness/exec.js';

const labs: TestLab[] = [];

async function sourceSeenByInternet(natOutgoing: boolean): Promise<{ src: string; podIp: string; nodeIp: string }> {
  const t = testLab(natOutgoing ? 'a' : 'b');
  labs.push(t);
  await t.lab(['up', '--nodes', '2', '--pods-per-node', '1', ...(natOutgoing ? [] : ['--no-nat-outgoing'])]);
  await t.lab(['attach', 'inet', '--ip', '10.0.0.250/24']);
  const inet = t.ns('x-inet');
  const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { pods: Array<{ name: string; ip: string; node: string }>; nodes: Array<{ name: string; ip: string }> };
  const pod = st.pods[0];
  if (!pod) throw new Error('no pod');
  // The "internet" host logs the source of the first echo request it receives; the pod pings until
  // it has (no fixed sleep: on a loaded machine tcpdump may take seconds to start listening).
  let seen = false;
  const dump = run('ip', ['netns', 'exec', inet, 'timeout', '60', 'tcpdump', '-l', '-n', '-c', '1', '-i', 'eth0', 'icmp[icmptype] == icmp-echo']).finally(() => {
    seen = true;
  });
  while (!seen) await t.lab(['exec', pod.name, '--', 'ping', '-c', '1', '-W', '1', '10.0.0.250']).catch(() => undefined);
  const out = (await dump).stdout;
  const src = /IP (\S+) > 10\.0\.0\.250/.exec(out)?.[1] ?? '';
  const nodeIp = st.nodes.find((n) => n.name === pod.node)?.ip.split('/')[0] ?? '';
  return { src, podIp: pod.ip, nodeIp };
}

describe('lab: natOutgoing', () => {
  afterAll(async () => {
    for (const t of labs) await t.down();
  });

  it('masquerades pool → outside with natOutgoing true', { timeout: 300_000 }, async () => {
    const r = await sourceSeenByInternet(true);
    expect(r.src).toBe(r.nodeIp);
    await labs.pop()?.down();
  });

  it('keeps the pod address with natOutgoing false', { timeout: 300_000 }, async () => {
    const r = await sourceSeenByInternet(false);
    expect(r.src).toBe(r.podIp);
  });
});
