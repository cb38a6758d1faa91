// A peer as GoBGP's API shows it (apipb.Peer). Pure: the server takes a snapshot of the speaker's
// peer and this turns it into the message; every nested message the CLI dereferences is filled.
import type { Capability } from '../../codec/types.js';
import { capabilityToApi, familyOf, timestamp, type ApiAny } from './convert.js';

export interface FamilyCounts {
  received: number;
  accepted: number;
  advertised: number;
}

export interface PeerSnapshot {
  address: string;
  description: string;
  asNumber: number;
  localAs: number;
  rrClient: boolean;
  clusterId: string;
  passive: boolean;
  adminDown: boolean;
  /** FSM state name: Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  state: string;
  /** When the state last changed, ms since the epoch. */
  sinceMs: number;
  /** Times the session went down from Established. */
  flops: number;
  /** Messages by type code (index 1..5). */
  counters: { sent: readonly number[]; received: readonly number[] };
  configuredHoldTime: number;
  connectRetry: number;
  localAddress?: string;
  remotePort?: number;
  /** The capabilities we advertise (from our OPEN once there is one). */
  localCaps: readonly Capability[];
  negotiated?: { holdTime: number; keepaliveTime: number; peerRouterId: string; remoteCaps: readonly Capability[] };
  families: ReadonlyArray<{ family: 4 | 6; counts: FamilyCounts }>;
  queuedBytes: number;
}

const SESSION_STATES: Record<string, number> = { Idle: 1, Connect: 2, Active: 3, OpenSent: 4, OpenConfirm: 5, Established: 6 };

function messages(c: readonly number[]): Record<string, number> {
  const n = (i: number): number => c[i] ?? 0;
  return { open: n(1), update: n(2), notification: n(3), keepalive: n(4), refresh: n(5), discarded: 0, total: n(1) + n(2) + n(3) + n(4) + n(5), withdraw_update: 0, withdraw_prefix: 0 };
}

export interface ApiPeer {
  conf: Record<string, unknown>;
  state: Record<string, unknown> & { remote_cap: ApiAny[]; local_cap: ApiAny[] };
  timers: { config: Record<string, unknown>; state: Record<string, unknown> };
  transport: Record<string, unknown>;
  route_reflector: Record<string, unknown>;
  route_server: Record<string, unknown>;
  graceful_restart: Record<string, unknown>;
  ebgp_multihop: Record<string, unknown>;
  afi_safis: Array<Record<string, unknown>>;
}

export function peerToApi(p: PeerSnapshot): ApiPeer {
  const up = p.state === 'Established';
  const type = p.asNumber === p.localAs ? 0 : 1; // INTERNAL, EXTERNAL
  const keepalive = p.negotiated?.keepaliveTime ?? Math.floor(p.configuredHoldTime / 3);
  return {
    conf: { neighbor_address: p.address, peer_asn: p.asNumber, local_asn: p.localAs, type, description: p.description, admin_down: p.adminDown },
    state: {
      neighbor_address: p.address,
      peer_asn: p.asNumber,
      local_asn: p.localAs,
      type,
      description: p.description,
      session_state: SESSION_STATES[p.state] ?? 0,
      admin_state: p.adminDown ? 1 : 0,
      messages: { sent: messages(p.counters.sent), received: messages(p.counters.received) },
      queues: { input: 0, output: 0 },
      out_q: p.queuedBytes,
      flops: p.flops,
      router_id: p.negotiated?.peerRouterId ?? '',
      local_cap: up ? p.localCaps.map(capabilityToApi) : [],
      remote_cap: p.negotiated ? p.negotiated.remoteCaps.map(capabilityToApi) : [],
    },
    timers: {
      config: { connect_retry: p.connectRetry, hold_time: p.configuredHoldTime, keepalive_interval: Math.floor(p.configuredHoldTime / 3) },
      state: {
        connect_retry: p.connectRetry,
        hold_time: p.configuredHoldTime,
        keepalive_interval: keepalive,
        negotiated_hold_time: p.negotiated?.holdTime ?? 0,
        ...(up ? { uptime: timestamp(p.sinceMs) } : p.flops > 0 ? { downtime: timestamp(p.sinceMs) } : {}),
      },
    },
    transport: { local_address: p.localAddress ?? '', remote_address: p.address, remote_port: p.remotePort ?? 179, passive_mode: p.passive },
    route_reflector: { route_reflector_client: p.rrClient, route_reflector_cluster_id: p.rrClient ? p.clusterId : '' },
    route_server: { route_server_client: false },
    graceful_restart: {},
    ebgp_multihop: {},
    afi_safis: p.families.map((f) => ({
      config: { family: familyOf(f.family), enabled: true },
      state: { family: familyOf(f.family), enabled: true, ...f.counts },
    })),
  };
}
