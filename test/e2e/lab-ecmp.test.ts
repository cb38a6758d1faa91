// ECMP with a ToR pair, as Calico's BIRD does it with `merge paths on`: two BIRD ToRs in one AS
// announce the same default route to a node through two global BGPPeers. The node's kernel holds
// one default route with both ToRs as next hops. Then the ToR that carries a pod's continuous ping
// dies (BIRD killed, its link down): the ping carries on over the other ToR, and the kernel route
// shrinks to the survivor.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bird } from '../harness/bird.js';
import { entryArgv } from '../harness/entry.js';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('ecmp');
const TOR_AS = 65010;
const TORS = [
  { name: 'tor1', ip: '10.0.0.250' },
  { name: 'tor2', ip: '10.0.0.251' },
];
/** An address both ToRs own (on lo), beyond the default route: what the pod pings. */
const BEYOND = '198.19.0.1';

describe('lab: ECMP over two BIRD ToRs announcing the same default route', () => {
  const birds = new Map<string, Bird>();
  let dir = '';
  let node = { name: '', ip: '' };
  let podNs = '';
  let ping: ChildProcess | undefined;

  const ctl = async (args: string[]): Promise<string> => {
    const s = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { etcdNs: string; etcdEndpoint: string };
    return (await run('ip', ['netns', 'exec', s.etcdNs, 'env', 'DATASTORE_TYPE=etcdv3', `ETCD_ENDPOINTS=${s.etcdEndpoint}`, ...entryArgv('ctl/main'), ...args])).stdout;
  };
  const defaultRoute = async (): Promise<string> => t.exec(t.ns(node.name), ['ip', 'route', 'show', 'default', 'proto', '80']);
  /** Echo requests for BEYOND that reached a ToR (an iptables counter in its namespace). */
  const echoes = async (tor: string): Promise<number> => {
    const out = await t.exec(t.ns(`x-${tor}`), ['iptables', '-w', '-L', 'INPUT', '-v', '-n', '-x']);
    const line = out.split('\n').find((l) => l.includes(BEYOND));
    return Number(line?.trim().split(/\s+/)[0] ?? 0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-lab-ecmp-'));
    await t.lab(['up', '--nodes', '1', '--pods-per-node', '1']);
    const st = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { nodes: Array<{ name: string; ip: string }>; pods: Array<{ ns: string }> };
    node = { name: st.nodes[0]?.name ?? '', ip: st.nodes[0]?.ip.split('/')[0] ?? '' };
    podNs = st.pods[0]?.ns ?? '';
    for (const tor of TORS) {
      const ns = t.ns(`x-${tor.name}`);
      await t.lab(['attach', tor.name, '--ip', `${tor.ip}/24`]);
      await t.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
      await t.exec(ns, ['ip', 'addr', 'add', `${BEYOND}/32`, 'dev', 'lo']);
      await t.exec(ns, ['iptables', '-w', '-A', 'INPUT', '-p', 'icmp', '-d', BEYOND, '-j', 'ACCEPT']);
      birds.set(
        tor.name,
        await Bird.start(
          ns,
          `router id ${tor.ip};
protocol device {}
protocol static s4 { ipv4; route 0.0.0.0/0 blackhole; }
protocol bgp ${node.name} { local ${tor.ip} as ${TOR_AS}; neighbor ${node.ip} as 64512; hold time 9; connect retry time 1; error wait time 1,2; ipv4 { import all; export all; }; }
`,
        ),
      );
      writeFileSync(join(dir, `${tor.name}.yaml`), `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: ${tor.name}\nspec:\n  peerIP: ${tor.ip}\n  asNumber: ${TOR_AS}\n`);
      await ctl(['apply', '-f', join(dir, `${tor.name}.yaml`)]);
    }
  }, 240_000);

  afterAll(async () => {
    ping?.kill('SIGKILL');
    for (const b of birds.values()) await b.stop();
    await t.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the kernel holds one default route with both ToRs as next hops', async () => {
    const r = await eventually(async () => {
      const out = await defaultRoute();
      return TORS.every((x) => out.includes(`nexthop via ${x.ip} dev eth0`)) ? out : undefined;
    }, 60_000);
    expect(r.match(/^default/gm)).toHaveLength(1);
    expect(r).not.toMatch(/^default via/m);
  });

  it('the ToR carrying a continuous ping dies: the other path carries on, and the route keeps only the survivor', async () => {
    ping = spawn('ip', ['netns', 'exec', podNs, 'ping', '-n', '-i', '0.05', '-W', '1', BEYOND], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    ping.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const replies = (): number => (out.match(/bytes from/g) ?? []).length;
    await eventually(async () => (replies() >= 20 ? true : undefined));
    // The flow hashes to one next hop: the ToR whose counter moves is the one that must die.
    const before = await Promise.all(TORS.map((x) => echoes(x.name)));
    await eventually(async () => (replies() >= 40 ? true : undefined));
    const grew = (await Promise.all(TORS.map((x) => echoes(x.name)))).map((n, i) => n - (before[i] ?? 0));
    const carrier = (grew[0] ?? 0) > (grew[1] ?? 0) ? 0 : 1;
    const dead = TORS[carrier] ?? TORS[0];
    const survivor = TORS[1 - carrier] ?? TORS[1];
    expect(grew[carrier]).toBeGreaterThan(0);
    expect(grew[1 - carrier]).toBe(0);

    // The ToR dies: its BGP speaker first (the node sees the connection close), then its link.
    await birds.get(dead.name)?.stop();
    birds.delete(dead.name);
    await t.exec(t.ns(`x-${dead.name}`), ['ip', 'link', 'set', 'eth0', 'down']);
    const atKill = replies();
    const route = await eventually(async () => {
      const r = await defaultRoute();
      return r.includes(`default via ${survivor.ip} dev eth0`) ? r : undefined;
    }, 30_000);
    expect(route).not.toContain(dead.ip);
    // The ping goes on through the survivor.
    await eventually(async () => (replies() >= atKill + 40 ? true : undefined));
    ping.kill('SIGINT');
    await new Promise((r) => ping?.once('exit', r));
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    const sent = Number(m?.[1]);
    const lost = sent - Number(m?.[2]);
    // Near-zero loss: at most the few echoes in flight while the node swapped the route.
    expect(lost).toBeLessThanOrEqual(Math.max(3, Math.ceil(sent * 0.02)));
    expect(await echoes(survivor.name)).toBeGreaterThan(0);
  });
});
