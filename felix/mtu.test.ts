// The MTU rules as Calico's felix applies them, one case per rule.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MTU_IFACE_PATTERN, ENCAP_OVERHEAD, FALLBACK_HOST_MTU, computeMtus, encapsulationsInUse, hostMtu, mtuSettings, tunnelMtuInput, type Encapsulation } from './mtu.js';

const calicoPattern = new RegExp(DEFAULT_MTU_IFACE_PATTERN);
const auto = { ipipMTU: 0, vxlanMTU: 0, vxlanMTUV6: 0 };
const uses = (...e: Encapsulation[]): Set<Encapsulation> => new Set(e);

describe('host MTU from the interfaces (mtuIfacePattern)', () => {
  it("Calico's default pattern matches physical-looking names and nothing Calico or containers make", () => {
    const match = ['eth0', 'eth1.100', 'ens3', 'enp0s31f6', 'eno1', 'enx00e04c68', 'enP2p1s0', 'wlan0', 'wlp2s0', 'wwan0', 'wwp0s20', 'ibp1s0', 'ibs1', 'sls0'];
    const skip = ['lo', 'docker0', 'cali1234567890a', 'vxlan.calico', 'vxlan-v6.calico', 'tunl0', 'wireguard.cali', 'br0', 'virbr0', 'veth1a2b', 'bond0', 'en0', 'enz1', 'ib0', 'kube-ipvs0'];
    for (const n of match) expect(calicoPattern.test(n), n).toBe(true);
    for (const n of skip) expect(calicoPattern.test(n), n).toBe(false);
  });

  it('is the smallest MTU among the matching links, whatever their order', () => {
    const links = [
      { name: 'lo', mtu: 65536 },
      { name: 'eth0', mtu: 9000 },
      { name: 'cali0a1b2c3d4e5', mtu: 1200 },
      { name: 'ens4', mtu: 1460 },
      { name: 'eth1', mtu: 9001 },
    ];
    expect(hostMtu(links, calicoPattern)).toEqual({ mtu: 1460, from: 'ens4' });
    expect(hostMtu([...links].reverse(), calicoPattern)).toEqual({ mtu: 1460, from: 'ens4' });
  });

  it('a custom pattern chooses other links', () => {
    expect(hostMtu([{ name: 'eth0', mtu: 1500 }, { name: 'bond0', mtu: 9000 }], /^bond/)).toEqual({ mtu: 9000, from: 'bond0' });
  });

  it(`falls back to ${FALLBACK_HOST_MTU} when no link matches (as Calico does)`, () => {
    expect(hostMtu([{ name: 'lo', mtu: 65536 }, { name: 'br0', mtu: 9000 }], calicoPattern)).toEqual({ mtu: 1460 });
    expect(hostMtu([], calicoPattern)).toEqual({ mtu: 1460 });
  });
});

describe('tunnel and pod MTUs (computeMtus)', () => {
  it('each tunnel is the host MTU less its header: IPIP 20, VXLAN 50, VXLAN over IPv6 70', () => {
    expect(ENCAP_OVERHEAD).toEqual({ ipip: 20, vxlan: 50, vxlanV6: 70 });
    for (const host of [1400, 1460, 1500, 9000, 9001]) {
      const m = computeMtus(host, auto, uses());
      expect([m.ipip, m.vxlan, m.vxlanV6], String(host)).toEqual([host - 20, host - 50, host - 70]);
    }
  });

  it("Calico's table: pod MTU for each network MTU and encapsulation", () => {
    const table: [number, Encapsulation | 'none', number][] = [
      [1500, 'none', 1500],
      [1500, 'ipip', 1480],
      [1500, 'vxlan', 1450],
      [1500, 'vxlanV6', 1430],
      [9000, 'none', 9000],
      [9000, 'ipip', 8980],
      [9000, 'vxlan', 8950],
      [1460, 'ipip', 1440],
      [1460, 'vxlan', 1410],
      [9001, 'vxlan', 8951],
      [1450, 'vxlan', 1400],
      [1400, 'none', 1400],
    ];
    for (const [host, encap, pod] of table) expect(computeMtus(host, auto, encap === 'none' ? uses() : uses(encap)).pod, `${host} ${encap}`).toBe(pod);
  });

  it('with several encapsulations in use the pod gets the smallest', () => {
    expect(computeMtus(1500, auto, uses('ipip', 'vxlan')).pod).toBe(1450);
    expect(computeMtus(1500, auto, uses('vxlan', 'vxlanV6')).pod).toBe(1430);
    expect(computeMtus(1500, { ...auto, vxlanMTUV6: 1490 }, uses('vxlan', 'vxlanV6')).pod).toBe(1450);
  });

  it('a configured tunnel MTU replaces the computed one, for the tunnel and for the pod', () => {
    const m = computeMtus(1500, { ipipMTU: 1300, vxlanMTU: 1350, vxlanMTUV6: 1250 }, uses('vxlan'));
    expect(m).toMatchObject({ ipip: 1300, vxlan: 1350, vxlanV6: 1250, pod: 1350, warnings: [] });
  });

  it('a configured MTU of an encapsulation not in use does not change the pod MTU', () => {
    expect(computeMtus(9000, { ...auto, ipipMTU: 1000 }, uses()).pod).toBe(9000);
    expect(computeMtus(9000, { ...auto, ipipMTU: 1000 }, uses('vxlan')).pod).toBe(8950);
  });

  it('a configured MTU above the host MTU is used, with a warning naming both', () => {
    const m = computeMtus(1400, { ...auto, vxlanMTU: 1450 }, uses('vxlan'));
    expect(m.pod).toBe(1450);
    expect(m.warnings).toEqual(["the configured vxlan MTU 1450 is larger than the host interfaces' MTU 1400: packets that size will be dropped or fragmented"]);
    expect(computeMtus(1400, { ...auto, vxlanMTU: 1450 }, uses()).warnings).toEqual([]);
  });
});

describe('tunnel MTUs handed to the calculation graph (tunnelMtuInput)', () => {
  it('each tunnel device gets its own: tunl0 the IPIP MTU, vxlan.calico the VXLAN one, vxlan-v6.calico the VXLAN-over-IPv6 one', () => {
    expect(tunnelMtuInput(computeMtus(1500, auto, uses('vxlan', 'vxlanV6')))).toEqual({ ipipMtu: 1480, vxlanMtu: 1450, vxlanMtuV6: 1430 });
    expect(tunnelMtuInput(computeMtus(9000, { ...auto, vxlanMTUV6: 8000 }, uses('vxlanV6')))).toEqual({ ipipMtu: 8980, vxlanMtu: 8950, vxlanMtuV6: 8000 });
  });
});

describe('encapsulations in use, from the pools', () => {
  it('IPIP and VXLAN by family; Never adds nothing; CrossSubnet counts as in use', () => {
    expect(encapsulationsInUse([])).toEqual(new Set());
    expect(encapsulationsInUse([{ cidr: '10.0.0.0/16', ipipMode: 'Never', vxlanMode: 'Never' }])).toEqual(new Set());
    expect(encapsulationsInUse([{ cidr: '10.0.0.0/16', ipipMode: 'CrossSubnet', vxlanMode: 'Never' }])).toEqual(new Set(['ipip']));
    expect(
      encapsulationsInUse([
        { cidr: '10.0.0.0/16', ipipMode: 'Never', vxlanMode: 'Always' },
        { cidr: 'fd00::/48', ipipMode: 'Never', vxlanMode: 'CrossSubnet' },
      ]),
    ).toEqual(new Set(['vxlan', 'vxlanV6']));
  });
});

describe('MTU settings: FELIX_* env, then FelixConfiguration node.<host>, then default', () => {
  it('defaults: Calico pattern, every MTU automatic', () => {
    expect(mtuSettings({}, [], 'n1')).toEqual({ settings: { mtuIfacePattern: DEFAULT_MTU_IFACE_PATTERN, ...auto }, errors: [] });
  });

  it('the node-specific FelixConfiguration wins over default, the environment over both', () => {
    const configs = [
      { name: 'default', spec: { vxlanMTU: 1400, ipipMTU: 1420, mtuIfacePattern: '^bond' } },
      { name: 'node.n1', spec: { vxlanMTU: 1350 } },
      { name: 'node.n2', spec: { vxlanMTU: 1000 } },
    ];
    expect(mtuSettings({}, configs, 'n1').settings).toEqual({ mtuIfacePattern: '^bond', ipipMTU: 1420, vxlanMTU: 1350, vxlanMTUV6: 0 });
    expect(mtuSettings({ VXLANMTU: '1300', IPINIPMTU: '0', MTUIFACEPATTERN: '^eth' }, configs, 'n1').settings).toEqual({ mtuIfacePattern: '^eth', ipipMTU: 0, vxlanMTU: 1300, vxlanMTUV6: 0 });
    expect(mtuSettings({ VXLANMTUV6: '1380' }, [], 'n1').settings.vxlanMTUV6).toBe(1380);
  });

  it('a bad value is reported naming where it came from, and the automatic value used', () => {
    const r = mtuSettings({ VXLANMTU: 'big' }, [{ name: 'default', spec: { ipipMTU: 40, mtuIfacePattern: '(' } }], 'n1');
    expect(r.settings).toEqual({ mtuIfacePattern: DEFAULT_MTU_IFACE_PATTERN, ...auto });
    expect(r.errors).toHaveLength(3);
    expect(r.errors[0]).toMatch(/^FelixConfiguration default spec\.ipipMTU: 40 is not an MTU/);
    expect(r.errors[1]).toMatch(/^FELIX_VXLANMTU: "big" is not an MTU/);
    expect(r.errors[2]).toMatch(/^FelixConfiguration default spec\.mtuIfacePattern: "\(" is not a regular expression/);
  });
});
