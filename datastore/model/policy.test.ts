import { describe, expect, it } from 'vitest';
import { defaultPolicyTypes } from './index.js';
import { expectError, ok, v3 } from './testutil.js';

const np = (spec: Record<string, unknown>, meta: Record<string, unknown> = {}) => v3('NetworkPolicy', 'allow-db', spec, meta);
const gnp = (spec: Record<string, unknown>) => v3('GlobalNetworkPolicy', 'g1', spec);
const rule = (r: Record<string, unknown>) => np({ ingress: [{ action: 'Allow', ...r }] });

describe('policy types defaulting (as Calico does)', () => {
  it('ingress only when there are no rules', () => {
    expect(defaultPolicyTypes(undefined, undefined)).toEqual(['Ingress']);
  });
  it('ingress only when there are only ingress rules', () => {
    expect(ok(np({ ingress: [{ action: 'Allow' }] })).spec).toMatchObject({ types: ['Ingress'] });
  });
  it('egress only when there are only egress rules', () => {
    expect(ok(np({ egress: [{ action: 'Allow' }] })).spec).toMatchObject({ types: ['Egress'] });
  });
  it('ingress and egress when both are present', () => {
    expect(ok(np({ ingress: [{ action: 'Deny' }], egress: [{ action: 'Allow' }] })).spec).toMatchObject({ types: ['Ingress', 'Egress'] });
  });
  it('keeps explicit types', () => {
    expect(ok(np({ types: ['Egress'] })).spec).toMatchObject({ types: ['Egress'] });
  });
  it('rejects rules for a direction types leaves out', () => {
    expectError(np({ types: ['Egress'], ingress: [{ action: 'Allow' }] }), 'spec.types', /ingress rules/);
  });
  it('rejects duplicate types', () => {
    expectError(np({ types: ['Ingress', 'Ingress'] }), 'spec.types', /twice/);
  });
});

describe('NetworkPolicy', () => {
  it('defaults tier, selector and namespace', () => {
    const r = ok(np({ order: 100 }));
    expect(r.metadata.namespace).toBe('default');
    expect(r.spec).toEqual({ tier: 'default', order: 100, selector: 'all()', types: ['Ingress'] });
  });
  it('accepts the documented rule shapes', () => {
    const spec = {
      selector: "role == 'database'",
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: "role == 'frontend'", namespaceSelector: "project == 'x'", nets: ['172.17.0.0/16'], notNets: ['172.17.1.0/24'] },
          destination: { ports: [6379, '8000:8080', 'http'] },
        },
      ],
      egress: [{ action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 }, destination: { nets: ['10.0.0.0/24'] } }],
    };
    expect(ok(np(spec)).spec).toMatchObject({ ...spec, types: ['Ingress', 'Egress'] });
  });
  it('accepts every action and rejects others', () => {
    for (const action of ['Allow', 'Deny', 'Log', 'Pass']) ok(rule({ action }));
    expectError(rule({ action: 'allow' }), 'spec.ingress[0].action', /Allow/);
  });
  it('requires an action', () => {
    expectError(np({ ingress: [{}] }), 'spec.ingress[0].action', /required/);
  });
  it('takes protocols by any-case name or number, normalized', () => {
    expect(ok(rule({ protocol: 'tcp' })).spec).toMatchObject({ ingress: [{ protocol: 'TCP' }] });
    expect(ok(rule({ protocol: 'icmpv6' })).spec).toMatchObject({ ingress: [{ protocol: 'ICMPv6' }] });
    expect(ok(rule({ protocol: 47 })).spec).toMatchObject({ ingress: [{ protocol: 47 }] });
    expect(ok(rule({ protocol: '6' })).spec).toMatchObject({ ingress: [{ protocol: 6 }] });
    expectError(rule({ protocol: 'gre' }), 'spec.ingress[0].protocol', /not a protocol/);
    expectError(rule({ protocol: 256 }), 'spec.ingress[0].protocol', /not a protocol/);
  });
  it('normalizes ports: single numbers and a:a become numbers', () => {
    expect(ok(rule({ protocol: 'UDP', destination: { ports: ['53', '80:80', '1:2'] } })).spec).toMatchObject({
      ingress: [{ destination: { ports: [53, 80, '1:2'] } }],
    });
  });
  it('rejects bad ports and reversed ranges', () => {
    expectError(rule({ protocol: 'TCP', destination: { ports: [70000] } }), 'spec.ingress[0].destination.ports[0]', /0–65535/);
    expectError(rule({ protocol: 'TCP', destination: { ports: ['90:80'] } }), 'spec.ingress[0].destination.ports[0]', /greater than/);
    expectError(rule({ protocol: 'TCP', destination: { ports: ['Bad_Name'] } }), 'spec.ingress[0].destination.ports[0]', /port name/);
  });
  it('allows ports only with TCP, UDP, SCTP or UDPLite (by name or number)', () => {
    expectError(rule({ destination: { ports: [80] } }), 'spec.ingress[0].destination.ports', /only allowed with protocol/);
    expectError(rule({ protocol: 'ICMP', source: { notPorts: [80] } }), 'spec.ingress[0].source.notPorts', /only allowed/);
    ok(rule({ protocol: 17, destination: { ports: [53] } }));
    ok(rule({ protocol: 'SCTP', destination: { notPorts: [9] } }));
  });
  it('allows icmp only with ICMP/ICMPv6, code only with type', () => {
    expectError(rule({ protocol: 'TCP', icmp: { type: 8 } }), 'spec.ingress[0].icmp', /only allowed with protocol ICMP/);
    expectError(rule({ protocol: 'ICMP', icmp: { code: 0 } }), 'spec.ingress[0].icmp.code', /requires type/);
    expectError(rule({ protocol: 'ICMP', icmp: { type: 255 } }), 'spec.ingress[0].icmp.type', /254/);
  });
  it('checks nets and icmp against ipVersion', () => {
    expectError(rule({ ipVersion: 6, source: { nets: ['10.0.0.0/8'] } }), 'spec.ingress[0].source.nets[0]', /not an IPv6 network/);
    expectError(rule({ ipVersion: 6, protocol: 'ICMP', icmp: { type: 8 } }), 'spec.ingress[0].ipVersion', /does not match/);
  });
  it('normalizes a bare IP net to /32 and host bits to the network', () => {
    expect(ok(rule({ source: { nets: ['10.0.0.5', '10.1.2.3/16'] } })).spec).toMatchObject({ ingress: [{ source: { nets: ['10.0.0.5/32', '10.1.0.0/16'] } }] });
  });
  it('validates rule selectors', () => {
    expectError(rule({ source: { selector: 'role =' } }), 'spec.ingress[0].source.selector', /position/);
    expectError(np({ selector: '&&' }), 'spec.selector', /invalid selector/);
  });
  it('accepts serviceAccounts', () => {
    ok(rule({ source: { serviceAccounts: { names: ['api'], selector: "app == 'x'" } } }));
    expectError(rule({ source: { serviceAccounts: { name: 'api' } } }), 'spec.ingress[0].source.serviceAccounts.name', /unknown field/);
  });
  it('rejects unknown fields in rules and entity rules', () => {
    expectError(rule({ src: {} }), 'spec.ingress[0].src', /unknown field/);
    expectError(rule({ source: { net: '10.0.0.0/8' } }), 'spec.ingress[0].source.net', /unknown field/);
  });
  it('rejects GlobalNetworkPolicy-only fields', () => {
    expectError(np({ doNotTrack: true }), 'spec.doNotTrack', /unknown field/);
  });
  it('rejects an invalid namespace', () => {
    expectError(np({}, { namespace: 'Bad_NS' }), 'metadata.namespace', /not a valid namespace/);
  });
});

describe('GlobalNetworkPolicy', () => {
  it('is not namespaced and defaults like NetworkPolicy', () => {
    const r = ok(gnp({ order: 10, egress: [{ action: 'Pass' }] }));
    expect(r.metadata.namespace).toBeUndefined();
    expect(r.spec).toMatchObject({ selector: 'all()', types: ['Egress'] });
  });
  it('accepts namespaceSelector', () => {
    ok(gnp({ namespaceSelector: 'global()' }));
  });
  it('requires applyOnForward with doNotTrack or preDNAT', () => {
    expectError(gnp({ doNotTrack: true }), 'spec.applyOnForward', /applyOnForward/);
    ok(gnp({ doNotTrack: true, applyOnForward: true }));
  });
  it('rejects preDNAT with doNotTrack, and preDNAT egress rules', () => {
    expectError(gnp({ preDNAT: true, doNotTrack: true, applyOnForward: true }), 'spec.preDNAT', /cannot both/);
    expectError(gnp({ preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] }), 'spec.egress', /preDNAT/);
  });
});

describe('Profile', () => {
  it('accepts rules and labelsToApply with a generated name', () => {
    const r = ok(v3('Profile', 'kns.default', { ingress: [{ action: 'Allow' }], labelsToApply: { 'pcns.team': 'a' } }));
    expect(r.spec).toMatchObject({ labelsToApply: { 'pcns.team': 'a' } });
  });
  it('rejects an invalid label', () => {
    expectError(v3('Profile', 'p', { labelsToApply: { 'bad key!': 'a' } }), 'spec.labelsToApply.bad key!', /invalid label key/);
  });
});

describe('rule fields felix/policy renders (issue 7 model coverage)', () => {
  it('named ports and ranges in notPorts, on either side', () => {
    expect(ok(rule({ protocol: 'TCP', source: { notPorts: ['http', '1000:2000'] }, destination: { notPorts: ['metrics'] } })).spec).toMatchObject({
      ingress: [{ source: { notPorts: ['http', '1000:2000'] }, destination: { notPorts: ['metrics'] } }],
    });
  });
  it('icmp and notICMP with ICMP given by number, ICMPv6 types', () => {
    ok(rule({ protocol: 1, icmp: { type: 8, code: 0 } }));
    ok(rule({ protocol: 58, notICMP: { type: 128 } }));
    ok(rule({ protocol: 'ICMPv6', icmp: { type: 135 }, ipVersion: 6 }));
    expectError(rule({ protocol: 'ICMP', notICMP: { code: 1 } }), 'spec.ingress[0].notICMP.code', /requires type/);
    expectError(rule({ protocol: 17, notICMP: { type: 3 } }), 'spec.ingress[0].notICMP', /only allowed with protocol ICMP/);
  });
  it('notProtocol by name or number', () => {
    expect(ok(rule({ notProtocol: 'udp' })).spec).toMatchObject({ ingress: [{ notProtocol: 'UDP' }] });
    expect(ok(rule({ notProtocol: 132 })).spec).toMatchObject({ ingress: [{ notProtocol: 132 }] });
  });
  it('serviceAccounts by names alone, by selector alone, with a selector beside them', () => {
    ok(rule({ source: { serviceAccounts: { names: ['a', 'b'] } } }));
    ok(rule({ destination: { serviceAccounts: { selector: "tier == 'x'" }, selector: "app == 'y'", namespaceSelector: 'all()' } }));
    expectError(rule({ source: { serviceAccounts: { selector: 'tier ==' } } }), 'spec.ingress[0].source.serviceAccounts.selector', /position/);
    expectError(rule({ source: { serviceAccounts: { names: [''] } } }), 'spec.ingress[0].source.serviceAccounts.names[0]', /at least 1/);
  });
  it('notSelector and namespaceSelector, also global()', () => {
    ok(rule({ source: { notSelector: "app == 'x'", namespaceSelector: 'global()' } }));
    ok(gnp({ namespaceSelector: "team == 'a'", ingress: [{ action: 'Allow', source: { namespaceSelector: 'all()' } }] }));
  });
  it('policy serviceAccountSelector', () => {
    ok(np({ serviceAccountSelector: "tier == 'backend'", ingress: [{ action: 'Allow' }] }));
    expectError(np({ serviceAccountSelector: '((' }), 'spec.serviceAccountSelector', /position|invalid/);
  });
});
