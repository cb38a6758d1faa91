// The policy driver against the real kernel in a private namespace (iptables-nft, ipset): others'
// rules and sets stay untouched, a second apply of the same state writes nothing, a membership
// change is one ipset swap (a few members: an in-place edit) with the chains untouched, a new driver (restart) reconciles without
// flushing, and packets follow the sets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyDriver, PolicyDriverOptions } from '../../felix/dataplane/policy-iptables.js';
import type { ChainSpec, IpsetSpec, PolicyDataplaneState } from '../../felix/policy/types.js';
import { NetnsSet, removeStaleNamespaces } from '../harness/netns.js';
import { PolicyDrivers } from '../harness/policy-drivers.js';

const nss = new NetnsSet('pdrv');
let r = '';
let a = '';
let b = '';

const sh = async (ns: string, argv: string[]): Promise<string> => (await nss.exec(ns, argv)).stdout;
/** iptables-save without the timestamps and counters, so two listings compare as text. */
const save = async (v: 4 | 6 = 4): Promise<string> =>
  (await sh(r, [v === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter']))
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');
const canPing = (from: string, to: string): Promise<boolean> => sh(from, ['ping', '-c1', '-W1', to]).then(() => true, () => false);

function state(blocked: string[]): PolicyDataplaneState {
  const set: IpsetSpec = { name: 'cali40s:blocked', type: 'hash:net', family: 'inet', members: blocked };
  const ch = (name: string, rules: string[]): [string, ChainSpec] => [name, { name, rules }];
  return {
    family: 4,
    ipsets: new Map([[set.name, set]]),
    chains: new Map([
      ch('cali-FORWARD', ['-i veth-a -j cali-fw-veth-a', '-o veth-b -j cali-tw-veth-b']),
      ch('cali-fw-veth-a', ['-m conntrack --ctstate INVALID -j DROP']),
      ch('cali-tw-veth-b', ['-m set --match-set cali40s:blocked src -m comment --comment "blocked sources" -j DROP']),
    ]),
    hooks: [{ builtin: 'FORWARD', rule: '-j cali-FORWARD' }],
  };
}

beforeAll(async () => {
  await removeStaleNamespaces('ttpdrv');
  r = await nss.add('r');
  a = await nss.add('a');
  b = await nss.add('b');
  await nss.veth(r, 'veth-a', '10.99.1.1/24', a, 'eth0', '10.99.1.2/24');
  await nss.veth(r, 'veth-b', '10.99.2.1/24', b, 'eth0', '10.99.2.2/24');
  await sh(a, ['ip', 'route', 'add', 'default', 'via', '10.99.1.1']);
  await sh(b, ['ip', 'route', 'add', 'default', 'via', '10.99.2.1']);
  await sh(r, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // Someone else's rules and sets: a user chain, a FORWARD rule, the NAT driver's cali40 set.
  await sh(r, ['iptables', '-N', 'KUBE-OTHER']);
  await sh(r, ['iptables', '-A', 'KUBE-OTHER', '-s', '192.0.2.1/32', '-j', 'DROP']);
  await sh(r, ['iptables', '-A', 'FORWARD', '-j', 'KUBE-OTHER']);
  await sh(r, ['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
  await sh(r, ['ipset', 'create', 'cali40all-ipam-pools', 'hash:net']);
  await sh(r, ['ipset', 'add', 'cali40all-ipam-pools', '10.65.0.0/16']);
  await sh(r, ['ipset', 'create', 'someone-else', 'hash:ip']);
});

const drivers = new PolicyDrivers();
const driver = (o: PolicyDriverOptions): PolicyDriver => drivers.make(o);

afterAll(async () => {
  drivers.closeAll();
  await nss.cleanup();
});

describe('policy driver in a namespace', () => {
  let others = '';

  it('first apply writes our chains, one hook at the top, the set; others stay', async () => {
    others = (await save()).split('\n').filter((l) => l.includes('KUBE-OTHER') || l.includes('--dport 9')).join('\n');
    expect(await canPing(a, '10.99.2.2')).toBe(true);
    const d = driver({ family: 4, netns: r });
    const rep = await d.apply(state(['10.99.1.2/32']));
    expect(rep.chainsWritten).toEqual(['cali-FORWARD', 'cali-fw-veth-a', 'cali-tw-veth-b']);
    expect(rep.setsCreated).toEqual(['cali40s:blocked']);
    expect(rep.hooksFixed).toEqual(['FORWARD']);
    expect(rep.transactions).toBe(2);
    const text = await save();
    const fwd = text.split('\n').filter((l) => l.startsWith('-A FORWARD'));
    expect(fwd[0]).toMatch(/-j cali-FORWARD$/);
    expect(fwd.filter((l) => l.includes('cali-FORWARD'))).toHaveLength(1);
    for (const l of others.split('\n')) expect(text).toContain(l);
    expect(await canPing(a, '10.99.2.2')).toBe(false);
  });

  it('a second apply of the same state changes nothing (iptables-save identical, no restore run)', async () => {
    const before = await save();
    const d = driver({ family: 4, netns: r }); // fresh: it reads the kernel first
    const rep = await d.apply(state(['10.99.1.2/32']));
    expect(rep).toMatchObject({ chainsWritten: [], chainsDeleted: [], hooksFixed: [], setsCreated: [], setsSwapped: [], transactions: 0 });
    const again = await d.apply(state(['10.99.1.2/32']));
    expect(again.transactions).toBe(0);
    expect(await save()).toBe(before);
  });

  it('a membership change swaps the set and leaves every chain untouched', async () => {
    const before = await save();
    const d = driver({ family: 4, netns: r });
    const rep = await d.apply(state(['10.99.3.0/24']));
    expect(rep).toMatchObject({ chainsWritten: [], setsSwapped: ['cali40s:blocked'], transactions: 1 });
    expect(await save()).toBe(before);
    expect(await sh(r, ['ipset', 'list', '-n'])).not.toMatch(/cali4t/);
    expect(await canPing(a, '10.99.2.2')).toBe(true);
  });

  it('a member joining a larger set is added in place: one ipset restore, no chain written, packets follow', async () => {
    const others = Array.from({ length: 8 }, (_, i) => `192.0.2.${i + 10}/32`);
    const d = driver({ family: 4, netns: r });
    await d.apply(state(others));
    const before = await save();
    expect(await canPing(a, '10.99.2.2')).toBe(true);
    const rep = await d.apply(state([...others, '10.99.1.2/32']));
    expect(rep).toMatchObject({ chainsWritten: [], setsSwapped: [], setsEdited: ['cali40s:blocked'], transactions: 1 });
    expect(await save()).toBe(before);
    expect(await canPing(a, '10.99.2.2')).toBe(false);
    const back = await d.apply(state(['10.99.3.0/24']));
    expect(back.setsSwapped).toEqual(['cali40s:blocked']);
    expect(await canPing(a, '10.99.2.2')).toBe(true);
  });

  it('edits through the kept-running ipset and iptables-restore survive an outside change: the refused edit is re-planned from the kernel', async () => {
    const others = Array.from({ length: 8 }, (_, i) => `192.0.2.${i + 10}/32`);
    const d = driver({ family: 4, netns: r });
    await d.apply(state(others));
    for (let i = 0; i < 20; i++) await d.apply(state([...others, `198.51.100.${i}/32`])); // a pod each, in place
    // Someone adds the next member by hand: our add of it is refused ("already added").
    await sh(r, ['ipset', 'add', 'cali40s:blocked', '10.99.1.2']);
    // The refused request fails the round; the driver re-reads the kernel and its retry finishes the job.
    await d.apply(state([...others, '10.99.1.2/32']));
    const members = (await sh(r, ['ipset', 'list', 'cali40s:blocked'])).split('Members:\n')[1]?.trim().split('\n').sort();
    expect(members).toEqual([...others, '10.99.1.2'].map((m) => m.replace('/32', '')).sort());
    expect(await canPing(a, '10.99.2.2')).toBe(false);
    // The processes go on after the failure, and a chain edit still lands.
    const st = state(['10.99.3.0/24']);
    st.chains.set('cali-fw-veth-a', { name: 'cali-fw-veth-a', rules: ['-m conntrack --ctstate INVALID -j DROP', '-p udp -j RETURN'] });
    expect((await d.apply(st)).chainsWritten).toEqual(['cali-fw-veth-a']);
    expect(await save()).toMatch(/-A cali-fw-veth-a -p udp .*-j RETURN/);
    expect(await canPing(a, '10.99.2.2')).toBe(true);
    await d.apply(state(['10.99.3.0/24']));
  });

  it('restart reconciles: a hook pushed down and a stale chain are fixed without touching the rest', async () => {
    // Another tool inserts above our hook; a crashed older version left a chain and a set.
    await sh(r, ['iptables', '-I', 'FORWARD', '1', '-j', 'KUBE-OTHER']);
    await sh(r, ['iptables', '-N', 'cali-tw-stale']);
    await sh(r, ['iptables', '-A', 'cali-tw-stale', '-j', 'DROP']);
    await sh(r, ['ipset', 'create', 'cali40s:stale', 'hash:net']);
    const d = driver({ family: 4, netns: r });
    const rep = await d.apply(state(['10.99.3.0/24']));
    expect(rep).toMatchObject({ chainsWritten: [], chainsDeleted: ['cali-tw-stale'], hooksFixed: ['FORWARD'], setsDestroyed: ['cali40s:stale'] });
    // The driver's own record of what it wrote matches the kernel: nothing more to do.
    expect((await d.apply(state(['10.99.3.0/24']))).transactions).toBe(0);
    const fwd = (await save()).split('\n').filter((l) => l.startsWith('-A FORWARD'));
    expect(fwd[0]).toMatch(/-j cali-FORWARD$/);
    expect(fwd.filter((l) => l.endsWith('-j KUBE-OTHER'))).toHaveLength(2);
    const sets = (await sh(r, ['ipset', 'list', '-n'])).split('\n');
    expect(sets).toEqual(expect.arrayContaining(['cali40s:blocked', 'cali40all-ipam-pools', 'someone-else']));
    expect(sets).not.toContain('cali40s:stale');
  });

  it('a changed chain is rewritten alone; an empty state removes all of ours and nothing else', async () => {
    const d = driver({ family: 4, netns: r });
    const st = state(['10.99.1.2/32']);
    st.chains.set('cali-fw-veth-a', { name: 'cali-fw-veth-a', rules: ['-m conntrack --ctstate INVALID -j DROP', '-p icmp -j RETURN'] });
    const rep = await d.apply(st);
    expect(rep.chainsWritten).toEqual(['cali-fw-veth-a']);
    expect(rep.setsSwapped).toEqual(['cali40s:blocked']);
    expect(await canPing(a, '10.99.2.2')).toBe(false);

    expect((await d.apply(st)).transactions).toBe(0);
    const gone = await d.apply({ family: 4, ipsets: new Map(), chains: new Map(), hooks: [] });
    expect(gone.chainsDeleted).toEqual(['cali-FORWARD', 'cali-fw-veth-a', 'cali-tw-veth-b']);
    expect(gone.setsDestroyed).toEqual(['cali40s:blocked']);
    const text = await save();
    expect(text).not.toMatch(/cali-/);
    for (const l of others.split('\n')) expect(text).toContain(l);
    expect((await sh(r, ['ipset', 'list', '-n'])).split('\n')).toEqual(expect.arrayContaining(['cali40all-ipam-pools', 'someone-else']));
    expect(await canPing(a, '10.99.2.2')).toBe(true);
  });

  it('IPv6: ip6tables-restore and a cali60 set, IPv4 state untouched', async () => {
    const d4 = driver({ family: 4, netns: r });
    await d4.apply(state(['10.99.1.2/32']));
    const v4 = await save(4);
    const d6 = driver({ family: 6, netns: r });
    const st: PolicyDataplaneState = {
      family: 6,
      ipsets: new Map([['cali60s:x', { name: 'cali60s:x', type: 'hash:net', family: 'inet6', members: ['fd00::1/128', 'fd01::/64'] }]]),
      chains: new Map([['cali-FORWARD', { name: 'cali-FORWARD', rules: ['-m set --match-set cali60s:x src -j DROP'] }]]),
      hooks: [{ builtin: 'FORWARD', rule: '-j cali-FORWARD' }],
    };
    expect((await d6.apply(st)).chainsWritten).toEqual(['cali-FORWARD']);
    expect((await driver({ family: 6, netns: r }).apply(st)).transactions).toBe(0);
    expect(await save(6)).toMatch(/-A FORWARD .*-j cali-FORWARD/);
    expect(await save(4)).toBe(v4);
    // Rejected before anything is written, naming the problem.
    await expect(d6.apply({ ...st, family: 6, ipsets: new Map() })).rejects.toThrow(/cali60s:x/);
  });
});
