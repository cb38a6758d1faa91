import { describe, expect, it } from 'vitest';
import { formatStatus, histogramQuantiles, quantilesText, sessionsFromMetrics, sessionsText, table, type LabStatus } from './status.js';

describe('lab status text', () => {
  it('reads p50 and p99 of a histogram as bucket upper bounds', () => {
    const text = [
      'tortie_x_seconds_bucket{le="0.05"} 60',
      'tortie_x_seconds_bucket{le="0.1"} 99',
      'tortie_x_seconds_bucket{le="1"} 100',
      'tortie_x_seconds_bucket{le="+Inf"} 100',
      'tortie_x_seconds_count 100',
    ].join('\n');
    const q = histogramQuantiles(text, 'tortie_x_seconds');
    expect(q).toEqual({ p50: 0.05, p99: 0.1, count: 100 });
    expect(quantilesText(q)).toBe('≤ 50 ms / ≤ 100 ms (n = 100)');
    expect(quantilesText({ p50: 2.5, p99: Infinity, count: 3 })).toBe('≤ 2.5 s / > 30 s (n = 3)');
    expect(histogramQuantiles('tortie_x_seconds_bucket{le="+Inf"} 0', 'tortie_x_seconds')).toBeUndefined();
  });


  it('sizes columns to their widest cell and right-aligns numbers', () => {
    expect(table(['NAME', 'N', 'NOTE'], [['a', '5', 'x'], ['longer', '12', 'not ready: y']])).toEqual(['NAME     N  NOTE', 'a        5  x', 'longer  12  not ready: y']);
  });

  it('shows nodes, routes grouped by node, pods and attached namespaces', () => {
    const st: LabStatus = {
      mode: 'tortie-node on every host (BGP)',
      encap: 'none',
      crossSubnet: false,
      etcd: 'http://10.0.0.2:2379',
      nodes: [
        { name: 'node1', ip: '10.0.0.11/24', blocks: ['10.65.0.0/26'], ready: 'ready', sessions: { Established: 1 }, routes: ['blackhole 10.65.0.0/26', '10.65.0.64/26 via 10.0.0.12 dev eth0'], pods: 1 },
        { name: 'node2', ip: '10.0.0.12/24', blocks: [], ready: 'not ready: datastore not in sync', sessions: { Established: 0, Active: 1 }, routes: [], pods: 0 },
      ],
      pods: [{ name: 'web', namespace: 'shop', node: 'node1', ip: '10.65.0.1', iface: 'cali0123456789a' }],
      attached: [{ name: 'edge', ip: '10.0.0.200/24', subnet: 0 }],
    };
    expect(formatStatus(st).split('\n')).toEqual([
      'tortie-node on every host (BGP)   encapsulation: none   etcd: http://10.0.0.2:2379',
      '',
      'NODE   ADDRESS       PODS  ROUTES  BLOCKS        BGP SESSIONS       READY',
      'node1  10.0.0.11/24     1       2  10.65.0.0/26  1/1 up             ready',
      'node2  10.0.0.12/24     0       0  -             0/1 up (Active 1)  not ready: datastore not in sync',
      '',
      'ROUTES (proto 80)',
      'node1  blackhole 10.65.0.0/26',
      '       10.65.0.64/26 via 10.0.0.12 dev eth0',
      '',
      'POD       NODE   IP         INTERFACE',
      'shop/web  node1  10.65.0.1  cali0123456789a',
      '',
      'ATTACHED  ADDRESS        SEGMENT',
      'edge      10.0.0.200/24        0',
    ]);
  });

  it('reads BGP sessions by state from tortie-node metrics', () => {
    const text = '# HELP tortie_bgp_sessions BGP sessions by state\n# TYPE tortie_bgp_sessions gauge\ntortie_bgp_sessions{state="Established"} 2\ntortie_bgp_sessions{state="Connect"} 1\ntortie_routes_programmed 5\n';
    expect(sessionsFromMetrics(text)).toEqual({ Established: 2, Connect: 1 });
    expect(sessionsText(sessionsFromMetrics(text))).toBe('2/3 up (Connect 1)');
    expect(sessionsFromMetrics('tortie_routes_programmed 5\n')).toBeUndefined();
    expect(sessionsText(undefined)).toBe('-');
  });

  it('lists reflectors apart from attached namespaces, with their sessions', () => {
    const st: LabStatus = {
      mode: 'tortie-node on every host (BGP)',
      encap: 'none',
      crossSubnet: false,
      etcd: 'http://10.0.0.2:2379',
      nodes: [{ name: 'node1', ip: '10.0.0.11/24', blocks: [], routes: [], pods: 0 }],
      pods: [],
      attached: [],
      reflectors: [{ name: 'rr1', ip: '10.0.0.201/24', sessions: { Established: 2 } }, { name: 'rr2', ip: '10.0.0.202/24' }],
    };
    const text = formatStatus(st);
    expect(text).toContain('REFLECTOR  ADDRESS        BGP SESSIONS\nrr1        10.0.0.201/24  2/2 up\nrr2        10.0.0.202/24  no answer on its socket\n');
    expect(text).not.toContain('ATTACHED');
  });

  it('shows an etcd cluster: each member, whether it runs, and the leader', () => {
    const st: LabStatus = {
      mode: 'tortie-node on every host (BGP)',
      encap: 'none',
      crossSubnet: false,
      etcd: 'http://10.0.0.2:2379,http://10.0.0.3:2379,http://10.0.0.4:2379',
      etcdMembers: [
        { name: 'etcd1', endpoint: 'http://10.0.0.2:2379', state: 'down', leader: false },
        { name: 'etcd2', endpoint: 'http://10.0.0.3:2379', state: 'running', leader: true, revision: 42 },
        { name: 'etcd3', endpoint: 'http://10.0.0.4:2379', state: 'running', leader: false, revision: 42 },
      ],
      nodes: [],
      pods: [],
      attached: [],
    };
    expect(formatStatus(st).split('\n').slice(0, 6)).toEqual([
      'tortie-node on every host (BGP)   encapsulation: none   etcd: 3 members',
      '',
      'ETCD   ENDPOINT              STATE    LEADER',
      'etcd1  http://10.0.0.2:2379  down     -',
      'etcd2  http://10.0.0.3:2379  running  leader',
      'etcd3  http://10.0.0.4:2379  running  -',
    ]);
  });

  it('shows whether the kube-apiserver of a Kubernetes-datastore lab runs', () => {
    const st: LabStatus = { mode: 'tortie-node on every host (BGP)', encap: 'none', crossSubnet: false, etcd: 'http://10.0.0.2:2379', kubernetes: 'https://10.0.0.2:6443', apiserver: 'down', nodes: [], pods: [], attached: [] };
    expect(formatStatus(st).split('\n')[0]).toBe('tortie-node on every host (BGP)   encapsulation: none   datastore: kubernetes at https://10.0.0.2:6443 down (its etcd: http://10.0.0.2:2379)');
  });
});
