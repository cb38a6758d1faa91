// rr-race's address plan and daemon configurations: the reflector under test (ours, BIRD 2,
// GoBGP 3), the tester BIRD holding every client session, and the gobgpd monitor.
import { gobgpConfig, type GobgpNeighborConf } from '../../test/harness/gobgp.js';

export const AS = 64512;
export const CLUSTER = '244.0.0.1';
export type Impl = 'tortie' | 'bird' | 'gobgp';
/** Each fan-in client owns 2^FAN_BITS addresses (see fanPrefix). */
export const FAN_BITS = 17;

export const clientIp = (i: number): string => `10.96.${(i + 1) >> 8}.${(i + 1) & 255}`;
// BIRD locks a BGP session by neighbor address, so one BIRD cannot hold two sessions to the same
// address: the reflector answers each client on an address of its own (all in one /16).
export const nextHopIp = (i: number): string => `10.96.${64 + ((i + 1) >> 8)}.${(i + 1) & 255}`;
export const rrSideIp = (i: number): string => `10.96.${128 + ((i + 1) >> 8)}.${(i + 1) & 255}`;
// Each fan-in client owns 2^FAN_BITS addresses from 10.100.0.0 up (two /16s): with one /16 each,
// as before, 10×100k wrapped to 65,536 distinct prefixes per client and the monitor could never
// reach 10⁶ — the real reason that size "never finished".
export const fanPrefix = (c: number, i: number): string => {
  const a = (c << FAN_BITS) | i;
  return `10.${100 + (a >> 16)}.${(a >> 8) & 255}.${a & 255}/32`;
};
export const k8sBlock = (i: number): string => `10.${128 + (i >> 10)}.${(i >> 2) & 255}.${(i & 3) * 64}/26`;

export function birdRr(clients: number): string {
  const lines = [
    'router id 10.95.0.1;',
    'protocol device {}',
    `template bgp c { local as ${AS}; direct; rr client; rr cluster id ${CLUSTER}; passive on; hold time 240; keepalive time 80;`,
    '  ipv4 { gateway direct; import all; export all; }; }',
    `protocol bgp mon from c { neighbor 10.95.0.3 as ${AS}; }`,
  ];
  for (let i = 0; i < clients; i++) lines.push(`protocol bgp c${i} from c { neighbor ${clientIp(i)} as ${AS}; }`);
  return `${lines.join('\n')}\n`;
}

export function gobgpRr(clients: number): string {
  const nb = (address: string): GobgpNeighborConf => ({ address, peerAs: AS, passive: true, holdTime: 240, keepalive: 80, rrClusterId: CLUSTER });
  return gobgpConfig({ as: AS, routerId: '10.95.0.1', port: 179, neighbors: [nb('10.95.0.3'), ...Array.from({ length: clients }, (_, i) => nb(clientIp(i)))] });
}

/** Our reflector's config; `mraiMs`: its minimum route advertisement interval (tortie-rr's TORTIE_MRAI_MS). */
export function tortieRr(clients: number, mraiMs = 0): string {
  const peer = (address: string): Record<string, unknown> => ({ address, asNumber: AS, type: 'node', passive: true, rrClient: true });
  return JSON.stringify({
    logLevel: 'warn',
    asNumber: AS,
    routerId: '10.95.0.1',
    clusterId: CLUSTER,
    holdTime: 240,
    families: [4],
    ...(mraiMs ? { mraiMs } : {}),
    peers: [peer('10.95.0.3'), ...Array.from({ length: clients }, (_, i) => peer(clientIp(i)))],
  });
}

// ---- tester (one BIRD holding every client session) and monitor

/**
 * A tester BIRD's config for clients first … first+routes.length-1. `part` numbers the process when
 * the clients are split over several (each listens on a port of its own; the reflectors never dial).
 */
export function testerConfig(routes: string[][], importAll: boolean, flap = 0, first = 0, part = 0): string {
  const lines = ['router id 10.95.0.2;', 'protocol device {}', `template bgp t { local as ${AS}; direct; hold time 240; keepalive time 80; connect retry time 1; }`];
  routes.forEach((rs, j) => {
    const i = first + j;
    // Each client its own table: in one shared table every prefix would hold N-1 alternative routes
    // and each best-route change would be offered to all N export filters, so the tester's work grew
    // with N² per change (at k8s 500 it used 34 CPU s against the BIRD reflector's 1.3; at 1,000 it
    // ran 13 CPU minutes without finishing). Apart, a client sees only its own static and imports.
    lines.push(`ipv4 table t${i};`);
    const nFlap = Math.floor(rs.length * flap);
    lines.push(`protocol static s${i} { ipv4 { table t${i}; }; ${rs.slice(nFlap).map((p) => `route ${p} blackhole;`).join(' ')} }`);
    if (nFlap) lines.push(`protocol static f${i} { ipv4 { table t${i}; }; ${rs.slice(0, nFlap).map((p) => `route ${p} blackhole;`).join(' ')} }`);
    // Next hops on the shared /16 but not the tester's own addresses (BIRD drops a route whose next
    // hop is one of its addresses, and every client lives in this one BIRD).
    // Each session its own router id: reflected routes carry the originator's as ORIGINATOR_ID, and
    // one shared id would make every client drop every other client's routes as loops.
    lines.push(`protocol bgp c${i} from t { router id ${clientIp(i)}; local ${clientIp(i)} port ${1790 + part}; neighbor ${rrSideIp(i)} as ${AS}; ipv4 { table t${i}; gateway recursive; import ${importAll ? 'all' : 'none'}; export filter { if proto = "s${i}" || proto = "f${i}" then { bgp_next_hop = ${nextHopIp(i)}; accept; } reject; }; }; }`);
  });
  return `${lines.join('\n')}\n`;
}

export const MONITOR = gobgpConfig({ as: AS, routerId: '10.95.0.3', port: -1, neighbors: [{ address: '10.95.0.1', peerAs: AS, holdTime: 240, keepalive: 80, connectRetry: 1 }] });
