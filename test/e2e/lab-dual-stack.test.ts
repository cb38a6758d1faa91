// Dual stack end to end (`tortie-lab up --dual-stack`): every pod gets an IPv4 and an IPv6 address,
// and every pod reaches every other over both, three ways — the BGP full mesh, two tortie-rr
// reflectors (mesh off), and VXLAN CrossSubnet on two subnets, where IPv6 goes through
// vxlan-v6.calico over the nodes' IPv6 addresses. Two bring-ups: the reflector lab converges over
// the mesh first (`up` waits for both matrices), then turns it off.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withApi } from '../../bgp/api/gobgp/client.js';
import { run } from '../harness/exec.js';
import { capture, stopCapture } from './capture.js';
import { eventually, testLab, type TestLab } from './lab-helpers.js';

interface NodeSpec {
  bgp?: { ipv4Address?: string; ipv6Address?: string };
  ipv6VXLANTunnelAddr?: string;
  vxlanTunnelMACAddrV6?: string;
}

async function nodeSpec(t: TestLab, name: string): Promise<NodeSpec> {
  return (JSON.parse(await t.lab(['ctl', 'get', 'node', name, '-o', 'json'])) as { spec: NodeSpec }).spec;
}

/** `tortie-lab ping` prints one matrix per family, each ending in "N/M reachable". */
function matrices(out: string): Record<string, string> {
  const got: Record<string, string> = {};
  for (const m of out.matchAll(/^IPv(\d):\n[\s\S]*?^(\d+\/\d+) reachable$/gm)) got[`IPv${m[1]}`] = m[2] ?? '';
  return got;
}

const addr = (cidr: string | undefined): string => cidr?.split('/')[0] ?? '';

describe('lab --dual-stack: 3 nodes, BGP mesh then 2 route reflectors', () => {
  const t = testLab('ds');
  let upLog = '';

  beforeAll(async () => {
    upLog = await t.lab(['up', '--dual-stack', '--nodes', '3', '--rr', '2']);
  }, 300_000);
  afterAll(async () => t.down(), 120_000);

  it('each node registered both addresses, autodetected on the fabric, and the IPv6 default pool exists', async () => {
    expect((await nodeSpec(t, 'node1')).bgp).toEqual({ ipv4Address: '10.0.0.11/24', ipv6Address: 'fd00::11/64' });
    const pools = await t.lab(['ctl', 'get', 'ippools']);
    expect(pools).toMatch(/^default-ipv4-ippool\s+10\.65\.0\.0\/16/m);
    expect(pools).toMatch(/^default-ipv6-ippool\s+fd65::\/48/m);
  });

  it('over the mesh, every pod reached every other over IPv4 and IPv6 before the reflectors came', () => {
    // `up` waits on both matrices, and says so only when every pair answered in both families.
    expect(upLog.indexOf('routes converged: every pod reaches every other')).toBeGreaterThan(-1);
    expect(upLog.indexOf('routes converged')).toBeLessThan(upLog.indexOf('tortie-rr'));
  });

  it('with the mesh off, each node peers with both reflectors once per family', async () => {
    await eventually(async () => {
      for (let i = 1; i <= 3; i++) {
        const peers = await withApi(`unix:${t.stateDir}/node${i}-gobgp.sock`, (c) => c.peers());
        const up = peers.filter((p) => p.state === 'Established').map((p) => p.address).sort();
        if (peers.length !== 4 || up.join(',') !== '10.0.0.201,10.0.0.202,fd00::201,fd00::202') return undefined;
      }
      return true;
    }, 60_000);
  });

  it('every pod reaches every other pod over IPv4 and over IPv6 through the reflectors', async () => {
    const out = await eventually(async () => {
      const o = await t.lab(['ping']).catch(() => '');
      const m = matrices(o);
      return m.IPv4 === '30/30' && m.IPv6 === '30/30' ? o : undefined;
    }, 90_000);
    expect(matrices(out)).toEqual({ IPv4: '30/30', IPv6: '30/30' });
  });

  it("IPv6 blocks are routed to the owner's IPv6 address, learned over the IPv6 sessions", async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; blocks: string[] }> };
    const routes = await t.exec(t.ns('node1'), ['ip', '-6', 'route', 'show', 'proto', '80']);
    for (const n of st.nodes.filter((x) => x.name !== 'node1')) {
      const own = addr((await nodeSpec(t, n.name)).bgp?.ipv6Address);
      const v6Blocks = n.blocks.filter((b) => b.includes(':'));
      expect(v6Blocks.length).toBeGreaterThan(0);
      for (const b of v6Blocks) expect(routes).toContain(`${b} via ${own} dev eth0`);
    }
  });
});

describe('lab --dual-stack: VXLAN CrossSubnet on 2 subnets', () => {
  const t = testLab('dv');
  const captures: ChildProcess[] = [];

  beforeAll(async () => {
    await t.lab(['up', '--dual-stack', '--nodes', '3', '--subnets', '2', '--encap', 'vxlan', '--cross-subnet']);
  }, 300_000);
  afterAll(async () => {
    for (const p of captures) p.kill('SIGKILL');
    await t.down();
  }, 120_000);

  it('every pod reaches every other over both families; IPv6 crosses subnets in VXLAN over IPv6, and only then', async () => {
    const cap = capture(t.ns('fabric'), 'any', 'ip6 and udp port 4789');
    captures.push(cap.proc);
    await cap.listening;
    const out = await t.lab(['ping']);
    await stopCapture(cap.proc);
    expect(matrices(out)).toEqual({ IPv4: '30/30', IPv6: '30/30' });
    const lines = cap.lines.filter((l) => l.includes('.4789'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      // Segment k is fd00:0:0:k::/64: fd00::1x on segment 0, fd00:0:0:1::1x on segment 1.
      const m = /IP6 (fd00:[0-9a-f:]*?)\.\d+ > (fd00:[0-9a-f:]*?)\.4789/.exec(l);
      expect(m, l).not.toBeNull();
      const seg = (a: string | undefined): string => (a?.startsWith('fd00:0:0:1::') ? '1' : '0');
      expect(seg(m?.[1]), l).not.toBe(seg(m?.[2]));
    }
  });

  it("node1's vxlan-v6.calico: VNI 4096, port 4789, on its IPv6 address, MTU host − 70, with a permanent neighbour and FDB entry per remote VTEP", async () => {
    const self = await nodeSpec(t, 'node1');
    const link = await t.exec(t.ns('node1'), ['ip', '-d', 'link', 'show', 'vxlan-v6.calico']);
    expect(link).toMatch(/vxlan id 4096 local fd00::11 .*dstport 4789/s);
    expect(link).toContain(`link/ether ${self.vxlanTunnelMACAddrV6}`);
    // Calico's MTUs on a 1500-byte fabric: VXLAN over IPv6 costs 70 bytes, over IPv4 50; pods get the smaller.
    const mtu = async (dev: string): Promise<number> => (JSON.parse(await t.exec(t.ns('node1'), ['ip', '-j', 'link', 'show', 'dev', dev])) as { mtu: number }[])[0].mtu;
    expect(await mtu('vxlan-v6.calico')).toBe(1500 - 70);
    expect(await mtu('vxlan.calico')).toBe(1500 - 50);
    expect(readFileSync(join(t.stateDir, 'node1', 'var-lib-calico', 'mtu'), 'utf8')).toBe(String(1500 - 70));
    const neigh = await t.exec(t.ns('node1'), ['ip', '-6', 'neigh', 'show', 'dev', 'vxlan-v6.calico']);
    const fdb = await t.exec(t.ns('node1'), ['bridge', 'fdb', 'show', 'dev', 'vxlan-v6.calico']);
    for (const name of ['node2', 'node3']) {
      const n = await nodeSpec(t, name);
      expect(n.ipv6VXLANTunnelAddr).toMatch(/^fd65:/);
      expect(neigh).toContain(`${n.ipv6VXLANTunnelAddr} lladdr ${n.vxlanTunnelMACAddrV6} PERMANENT`);
      expect(fdb).toContain(`${n.vxlanTunnelMACAddrV6} dst ${addr(n.bgp?.ipv6Address)} self permanent`);
    }
  });

  it('IPv6 blocks on the same subnet are routed directly, those across subnets through vxlan-v6.calico', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; blocks: string[] }> };
    const routes = await t.exec(t.ns('node1'), ['ip', '-6', 'route', 'show', 'proto', '80']);
    const v6Blocks = (name: string): string[] => st.nodes.find((n) => n.name === name)?.blocks.filter((b) => b.includes(':')) ?? [];
    const n3 = await nodeSpec(t, 'node3');
    expect(v6Blocks('node2').length * v6Blocks('node3').length).toBeGreaterThan(0);
    for (const b of v6Blocks('node2')) expect(routes).toContain(`${b} via fd00::12 dev eth0`); // node2: same subnet
    for (const b of v6Blocks('node3')) expect(routes).toContain(`${b} via ${n3.ipv6VXLANTunnelAddr} dev vxlan-v6.calico`); // node3: the other one
  });
});

describe('lab --ipv6: IPv6 only, 2 nodes over the BGP mesh, natOutgoing', () => {
  const t = testLab('v6');
  let upLog = '';

  beforeAll(async () => {
    upLog = await t.lab(['up', '--ipv6', '--nodes', '2', '--pods-per-node', '2']);
  }, 300_000);
  afterAll(async () => t.down(), 120_000);

  it('only the IPv6 default pool exists, and each node registered only its IPv6 address', async () => {
    const pools = await t.lab(['ctl', 'get', 'ippools']);
    expect(pools).toMatch(/^default-ipv6-ippool\s+fd65::\/48/m);
    expect(pools).not.toMatch(/ipv4|\b\d+\.\d+\.\d+\.\d+\/\d+/);
    for (const name of ['node1', 'node2']) expect((await nodeSpec(t, name)).bgp, name).toEqual({ ipv6Address: `fd00::1${name.slice(-1)}/64` });
  });

  it('pods have only IPv6 addresses, and every pod reaches every other over IPv6', async () => {
    const st = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { pods: Array<{ name: string; ns: string; ip: string }> };
    expect(st.pods).toHaveLength(4);
    for (const p of st.pods) {
      expect(p.ip, p.name).toMatch(/^fd65:/);
      expect(await t.exec(p.ns, ['ip', '-4', 'addr', 'show', 'dev', 'eth0']), p.name).toBe('');
      expect(await t.exec(p.ns, ['ip', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']), p.name).toContain(`inet6 ${p.ip}/`);
    }
    expect(upLog).toContain('routes converged: every pod reaches every other');
    const out = await t.lab(['ping']);
    expect(matrices(out)).toEqual({ IPv6: '12/12' });
  });

  it('routes travel over the IPv6 BGP session only: IPv6 blocks via the peer, no IPv4 session or route', async () => {
    const peers = await withApi(`unix:${t.stateDir}/node1-gobgp.sock`, (c) => c.peers());
    expect(peers.map((p) => [p.address, p.state])).toEqual([['fd00::12', 'Established']]);
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; blocks: string[] }> };
    const blocks = st.nodes.find((n) => n.name === 'node2')?.blocks ?? [];
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.every((b) => b.startsWith('fd65:'))).toBe(true);
    const routes = await t.exec(t.ns('node1'), ['ip', '-6', 'route', 'show', 'proto', '80']);
    for (const b of blocks) expect(routes).toContain(`${b} via fd00::12 dev eth0`);
    expect(await t.exec(t.ns('node1'), ['ip', '-4', 'route', 'show', 'proto', '80'])).toBe('');
  });

  it("natOutgoing on the IPv6 pool: a pod reaching an address outside every pool arrives with its node's IPv6 address", async () => {
    await t.lab(['attach', 'inet', '--ip', '10.0.0.250/24']);
    const inet = t.ns('x-inet');
    await t.exec(inet, ['ip', '-6', 'addr', 'add', 'fd00::250/64', 'dev', 'eth0', 'nodad']);
    const st = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { pods: Array<{ name: string; ns: string; node: string }> };
    const pod = st.pods.find((p) => p.node === 'node2');
    // The first ICMPv6 echo request that host receives; the pod pings until it has (tcpdump may take
    // seconds to start listening on a loaded machine).
    let seen = false;
    const dump = run('ip', ['netns', 'exec', inet, 'timeout', '60', 'tcpdump', '-l', '-n', '-c', '1', '-i', 'eth0', 'icmp6 and ip6[40] == 128']).finally(() => {
      seen = true;
    });
    while (!seen) await t.exec(pod?.ns ?? '', ['ping', '-c', '1', '-W', '1', 'fd00::250']).catch(() => undefined);
    expect(/IP6 (\S+) > fd00::250/.exec((await dump).stdout)?.[1]).toBe('fd00::12');
  });
});
