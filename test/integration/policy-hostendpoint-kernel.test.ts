// Host endpoint state on the kernel through the real driver, both families, in a private
// namespace: every chain the renderer makes for a named and an all-interfaces HEP (failsafe ports
// with CIDRs of each family, applyOnForward, profiles, selector sets from expectedIPs) is taken by
// iptables-restore / ip6tables-restore; a fresh driver then finds nothing to do; dropping the HEPs
// removes our INPUT / OUTPUT hooks and chains and leaves others' rules alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyDriver, PolicyDriverOptions } from '../../felix/dataplane/policy-iptables.js';
import { hostPolicyEndpoint, withBuiltinProfiles } from '../../felix/policy/host.js';
import { computePolicyState } from '../../felix/policy/index.js';
import { globalPolicy, resource } from '../../felix/policy/testing/fixtures.js';
import type { PolicyCalcInput } from '../../felix/policy/types.js';
import { NetnsSet, removeStaleNamespaces } from '../harness/netns.js';
import { PolicyDrivers } from '../harness/policy-drivers.js';

const nss = new NetnsSet('hepk');
let ns = '';

const hep = (name: string, spec: Record<string, unknown>) =>
  hostPolicyEndpoint(resource({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels: { role: 'node' } }, spec: { node: 'n1', ...spec } }), new Map());

function model(withHeps: boolean): PolicyCalcInput {
  const eth0 = hep('n1-eth0', { interfaceName: 'eth0', expectedIPs: ['10.0.0.11', 'fd00::11'], profiles: ['projectcalico-default-allow'] });
  const all = hep('n1-all', { interfaceName: '*' });
  const remote = hep('n2-eth0', { node: 'n2', interfaceName: 'eth0', expectedIPs: ['10.0.0.12', 'fd00::12'] });
  const policies = [
    globalPolicy('nodes', { selector: "role == 'node'", applyOnForward: true, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "role == 'node'" }, destination: { ports: [10250] } }], egress: [{ action: 'Deny', protocol: 'UDP', destination: { nets: ['192.0.2.0/24', '2001:db8::/32'] } }, { action: 'Pass' }] }),
  ];
  return {
    hostname: 'n1',
    localEndpoints: [],
    allEndpoints: [eth0, all, remote],
    policies,
    profiles: withBuiltinProfiles([]),
    localHostEndpoints: withHeps ? [eth0, all] : [],
    hostAddresses: ['10.0.0.11/24', '10.0.0.12/24', 'fd00::11/64'],
    failsafe: { inbound: [{ protocol: 'tcp', port: 22, net: '10.0.0.0/8' }, { protocol: 'tcp', port: 22, net: 'fd00::/8' }, { protocol: 'udp', port: 68 }, { protocol: 'sctp', port: 9 }], outbound: [{ protocol: 'udp', port: 53 }] },
  };
}

const save = async (f: 4 | 6): Promise<string> => (await nss.exec(ns, [f === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter'])).stdout;

beforeAll(async () => {
  await removeStaleNamespaces('tthepk');
  ns = await nss.add('h');
  for (const bin of ['iptables', 'ip6tables']) await nss.exec(ns, [bin, '-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
});

/** The members of one set in `ipset list` output, sorted. */
function setMembers(list: string, name: string): string[] {
  const block = list.split(/\n(?=Name: )/).find((b) => b.startsWith(`Name: ${name}\n`)) ?? '';
  return (block.split('Members:\n')[1] ?? '').split('\n').filter(Boolean).sort();
}

const drivers = new PolicyDrivers();
const driver = (o: PolicyDriverOptions): PolicyDriver => drivers.make(o);

afterAll(async () => {
  drivers.closeAll();
  await nss.cleanup();
});

describe('host endpoint chains on the kernel', () => {
  for (const f of [4, 6] as const) {
    it(`IPv${f}: applied with one ipset restore and one iptables-restore, read back unchanged by a fresh driver, removed with the HEPs`, async () => {
      const st = computePolicyState(model(true));
      const want = f === 4 ? st.v4 : st.v6;
      const rep = await driver({ family: f, netns: ns }).apply(want);
      expect(rep.transactions).toBe(2);
      expect(rep.hooksFixed.sort()).toEqual(['FORWARD', 'INPUT', 'OUTPUT']);
      expect(rep.chainsWritten).toEqual(expect.arrayContaining(['cali-INPUT', 'cali-OUTPUT', 'cali-fh-eth0', 'cali-th-eth0', 'cali-fhfw-eth0', 'cali-thfw-eth0', 'cali-fh-any-interface-at-all', 'cali-failsafe-in', 'cali-failsafe-out']));
      const text = await save(f);
      const input = text.split('\n').filter((l) => l.startsWith('-A INPUT'));
      expect(input[0]).toMatch(/-j cali-INPUT$/);
      expect(input.some((l) => l.includes('--dport 9 -j DROP'))).toBe(true);
      // Failsafe CIDRs only in their own family.
      expect(text.match(/^-A cali-failsafe-in .*$/gm)?.length).toBe(3);
      expect(text).toContain(f === 4 ? '-s 10.0.0.0/8' : '-s fd00::/8');
      // The selector set holds the HEPs' expectedIPs of this family.
      const sets = (await nss.exec(ns, ['ipset', 'list'])).stdout;
      expect(sets).toContain(f === 4 ? '10.0.0.12' : 'fd00::12');
      // Encapsulation is accepted from the nodes' addresses only (the all-hosts set). A hash set
      // lists its members in an order seeded at random per set, so they are compared sorted.
      expect(setMembers(sets, f === 4 ? 'cali40h:all-hosts' : 'cali60h:all-hosts')).toEqual(f === 4 ? ['10.0.0.11', '10.0.0.12'] : ['fd00::11']);
      expect(text).toMatch(/^-A cali-INPUT -p udp .*--match-set cali[46]0h:all-hosts src .*--dport 4789 -j ACCEPT$/m);
      expect((await driver({ family: f, netns: ns }).apply(want)).transactions).toBe(0);

      const none = f === 4 ? computePolicyState(model(false)).v4 : computePolicyState(model(false)).v6;
      const gone = await driver({ family: f, netns: ns }).apply(none);
      expect(gone.chainsDeleted).toEqual(expect.arrayContaining(['cali-INPUT', 'cali-OUTPUT', 'cali-fh-eth0', 'cali-failsafe-in']));
      const after = await save(f);
      expect(after).not.toMatch(/cali-INPUT|cali-OUTPUT|failsafe|host-endpoint|hep-forward/);
      expect(after).toMatch(/-A INPUT .*--dport 9 -j DROP/);
    });
  }
});
