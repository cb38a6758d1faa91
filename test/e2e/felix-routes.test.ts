// The route driver inside a namespace (run as a child under `ip netns exec`): programs our routes,
// reconciles without flushing, never touches foreign routes, handles thousands in one apply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryArgv } from '../harness/entry.js';
import { NetnsSet } from '../harness/netns.js';
import { run } from '../harness/exec.js';
import type { DesiredRoute, DesiredState } from '../../felix/calc/types.js';

const nets = new NetnsSet('fr');
let host = '';
let peer = '';

function state(routes: DesiredRoute[], extra: Partial<DesiredState> = {}): DesiredState {
  return { routes, remoteVteps: [], allPools: ['10.65.0.0/16'], natOutgoingPools: ['10.65.0.0/16'], workloadIfaces: [], ...extra };
}

interface Report {
  routes: { added: number; removed: number; unchanged: number; errors: string[] };
  errors: string[];
}

async function apply(s: DesiredState | string): Promise<Report> {
  const r = await run('ip', ['netns', 'exec', host, ...entryArgv('felix/dataplane/apply-main')], { input: typeof s === 'string' ? s : JSON.stringify(s) });
  return JSON.parse(r.stdout) as Report;
}

const ours = async (): Promise<string> => (await nets.exec(host, ['ip', 'route', 'show', 'proto', '80'])).stdout;

const base: DesiredRoute[] = [
  { family: 4, dst: '10.65.0.0/26', type: 'blackhole', kind: 'blackhole' },
  { family: 4, dst: '10.65.0.7/32', type: 'unicast', dev: 'caliwl1', scopeLink: true, kind: 'local-workload' },
  { family: 4, dst: '10.65.1.0/26', type: 'unicast', via: '10.0.0.2', kind: 'remote-direct' },
  { family: 4, dst: '10.65.2.0/26', type: 'unicast', via: '10.0.5.9', dev: 'eth0', onlink: true, kind: 'remote-ipip' },
];

describe('felix route driver in a namespace', () => {
  beforeAll(async () => {
    host = await nets.add('h');
    peer = await nets.add('p');
    await nets.veth(host, 'eth0', '10.0.0.1/24', peer, 'eth0', '10.0.0.2/24');
    await nets.veth(host, 'caliwl1', undefined, peer, 'wl1', undefined);
    await nets.exec(host, ['ip', 'route', 'add', '192.0.2.0/24', 'via', '10.0.0.2', 'proto', 'static']);
    await nets.exec(host, ['ip', 'route', 'add', '198.51.100.0/24', 'via', '10.0.0.2']);
  });
  afterAll(async () => {
    await nets.cleanup();
  });

  it('programs blackhole, workload, direct and onlink routes with proto 80', async () => {
    const r = await apply(state(base, { workloadIfaces: ['caliwl1'] }));
    expect(r.errors).toEqual([]);
    expect(r.routes.added).toBe(4);
    const out = await ours();
    expect(out).toMatch(/^blackhole 10\.65\.0\.0\/26/m);
    expect(out).toMatch(/^10\.65\.0\.7 dev caliwl1 scope link/m);
    expect(out).toMatch(/^10\.65\.1\.0\/26 via 10\.0\.0\.2 dev eth0/m);
    expect(out).toMatch(/^10\.65\.2\.0\/26 via 10\.0\.5\.9 dev eth0 onlink/m);
    const pa = await nets.exec(host, ['cat', '/proc/sys/net/ipv4/conf/caliwl1/proxy_arp']);
    expect(pa.stdout.trim()).toBe('1');
  });

  it('a restart with the same state changes nothing (no flush)', async () => {
    const r = await apply(state(base));
    expect(r.routes).toEqual({ added: 0, removed: 0, unchanged: 4, errors: [] });
  });

  it('replaces a changed next hop and removes only our stale routes', async () => {
    const next: DesiredRoute[] = [base[0] as DesiredRoute, { ...(base[2] as DesiredRoute), via: '10.0.0.3' }];
    const r = await apply(state(next));
    expect(r.routes).toMatchObject({ added: 1, removed: 2, unchanged: 1 });
    const out = await ours();
    expect(out).toMatch(/^10\.65\.1\.0\/26 via 10\.0\.0\.3/m);
    expect(out).not.toMatch(/10\.65\.0\.7|10\.65\.2\.0/);
    const all = (await nets.exec(host, ['ip', 'route'])).stdout;
    expect(all).toMatch(/^192\.0\.2\.0\/24 via 10\.0\.0\.2 dev eth0 proto static/m);
    expect(all).toMatch(/^198\.51\.100\.0\/24 via 10\.0\.0\.2/m);
  });

  it('ECMP: a route with two gateways is one multipath kernel route; losing one swaps it in place to the other', async () => {
    const ecmp: DesiredRoute = { family: 4, dst: '0.0.0.0/0', type: 'unicast', multipath: ['10.0.0.2', '10.0.0.3'], kind: 'bgp' };
    expect((await apply(state([ecmp]))).routes).toMatchObject({ added: 1, errors: [] });
    const out = await ours();
    expect(out).toMatch(/^default\s*\n\s*nexthop via 10\.0\.0\.2 dev eth0 weight 1\s*\n\s*nexthop via 10\.0\.0\.3 dev eth0 weight 1/m);
    // Read back from the kernel's dump: the same state again changes nothing.
    expect((await apply(state([ecmp]))).routes).toMatchObject({ added: 0, removed: 0, unchanged: 1 });
    const single: DesiredRoute = { family: 4, dst: '0.0.0.0/0', type: 'unicast', via: '10.0.0.3', kind: 'bgp' };
    expect((await apply(state([single]))).routes).toMatchObject({ added: 1, removed: 0, unchanged: 0, errors: [] });
    expect(await ours()).toMatch(/^default via 10\.0\.0\.3 dev eth0/m);
    expect(await ours()).not.toMatch(/nexthop/);
    expect((await apply(state([ecmp]))).routes).toMatchObject({ added: 1, errors: [] });
    expect(await ours()).toMatch(/nexthop via 10\.0\.0\.2[\s\S]*nexthop via 10\.0\.0\.3/);
    expect((await apply(state([]))).routes).toMatchObject({ removed: 1, errors: [] });
  });

  it('writes the natOutgoing chain and ipsets', async () => {
    const rules = (await nets.exec(host, ['iptables-save', '-t', 'nat'])).stdout;
    expect(rules).toMatch(/-A cali-nat-outgoing .*--match-set cali40masq-ipam-pools src .*! --match-set cali40all-ipam-pools dst .*-j MASQUERADE/);
    expect(rules).toMatch(/-A POSTROUTING .*-j cali-POSTROUTING/);
    expect((await nets.exec(host, ['ipset', 'list', 'cali40masq-ipam-pools'])).stdout).toContain('10.65.0.0/16');
    // Applying again keeps exactly one jump.
    await apply(state([]));
    const again = (await nets.exec(host, ['iptables-save', '-t', 'nat'])).stdout;
    expect(again.match(/-A POSTROUTING .*cali-POSTROUTING/g)).toHaveLength(1);
  });

  it('programs 5000 routes in one apply and removes them again', async () => {
    const many: DesiredRoute[] = [];
    for (let i = 0; i < 5000; i++) many.push({ family: 4, dst: `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`, type: 'unicast', via: '10.0.0.2', kind: 'bgp' });
    const r = await apply(state(many));
    expect(r.routes.errors).toEqual([]);
    expect(r.routes.added).toBe(5000);
    expect((await ours()).trim().split('\n')).toHaveLength(5000);
    const r2 = await apply(state([]));
    expect(r2.routes.removed).toBe(5000);
    expect((await ours()).trim()).toBe('');
  });

  it('reports each route the kernel refuses and still programs the rest of the batch', async () => {
    const many: DesiredRoute[] = [];
    for (let i = 0; i < 600; i++) many.push({ family: 4, dst: `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`, type: 'unicast', via: '10.0.0.2', kind: 'bgp' });
    // No route to 10.9.9.9, so the kernel answers "network unreachable" for these two alone.
    many.splice(100, 0, { family: 4, dst: '10.66.1.0/24', type: 'unicast', via: '10.9.9.9', kind: 'bgp' });
    many.push({ family: 4, dst: '10.66.2.0/24', type: 'unicast', via: '10.9.9.9', kind: 'bgp' });
    // The one-shot exits 1 and lists what failed on stderr.
    const r = await apply(state(many)).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
    const failed = (r as Error).message.match(/add \S+: \w+/g);
    expect(failed).toEqual(['add 10.66.1.0/24: ENETUNREACH', 'add 10.66.2.0/24: ENETUNREACH']);
    expect((await ours()).trim().split('\n')).toHaveLength(600);
    expect((await apply(state([]))).routes.removed).toBe(600);
  });

  it('reports a missing device and bad input clearly', async () => {
    const r = await apply(state([{ family: 4, dst: '10.65.9.0/26', type: 'unicast', dev: 'nosuchdev', kind: 'bgp' }])).catch((e: Error) => e);
    expect(String(r instanceof Error ? r.message : JSON.stringify(r))).toContain('device nosuchdev not found');
    const bad = await apply('{"routes": 5}').catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toContain('field "routes" must be an array');
  });
});
