// Tortie's own client of the GoBGP API (tortiectl node status, the lab, the tests): the speaker's
// one management API. Reads peers and routes into the speaker's status vocabulary; against a
// server without Tortie's peer-status trailer (gobgpd) it fills what it can from GoBGP's fields.
import * as grpc from '@grpc/grpc-js';
import type { PeerStatus, PeerType, RouteStatus } from '../../speaker/types.js';
import type { ApiAny } from './convert.js';
import { DEFAULT_GOBGP_API_HOSTS } from './constants.js';
import { gobgpService, PEER_STATUS_REQUEST, PEER_STATUS_TRAILER } from './service.js';

export class ApiUnavailableError extends Error {
  constructor(target: string, cause: string) {
    super(`cannot reach the BGP process at ${target}: ${cause}`);
    this.name = 'ApiUnavailableError';
  }
}

/** A route the speaker selected from a peer (what the route sink was told to program). */
export interface InstalledRoute {
  prefix: string;
  nextHops: string[];
  sourcePeer: string;
}

/** The best paths learned from peers. */
export const installedRoutes = (routes: readonly RouteStatus[]): InstalledRoute[] =>
  routes.filter((r) => r.best && r.source !== 'local').map((r) => ({ prefix: r.prefix, nextHops: [r.nextHop], sourcePeer: r.source }));

/** FAILED_PRECONDITION: the process runs but has no BGP configuration yet (tortie-rr waiting for the datastore). */
const notStarted = (e: unknown): boolean => (e as { code?: unknown }).code === grpc.status.FAILED_PRECONDITION;

export interface BgpProcessInfo {
  routerId: string;
  asNumber: number;
}

/** An API address as the gobgp CLI or TORTIE_GOBGP_API_HOSTS writes it, as grpc-js dials it. */
export function dialTarget(address: string): string {
  if (address.startsWith('unix:')) return `unix:${address.replace(/^unix:(\/\/)?/, '')}`;
  if (address.startsWith('/')) return `unix:${address}`;
  return address.startsWith(':') ? `127.0.0.1${address}` : address;
}

/** The address tortiectl dials by default: the first of TORTIE_GOBGP_API_HOSTS, else GoBGP's own default. */
export function defaultApiAddress(env: NodeJS.ProcessEnv = process.env): string {
  const first = env.TORTIE_GOBGP_API_HOSTS?.split(',')[0]?.trim();
  return first && !['off', 'none', 'false'].includes(first.toLowerCase()) ? first : DEFAULT_GOBGP_API_HOSTS;
}

const FSM_STATES: Record<string, string> = { IDLE: 'Idle', CONNECT: 'Connect', ACTIVE: 'Active', OPENSENT: 'OpenSent', OPENCONFIRM: 'OpenConfirm', ESTABLISHED: 'Established' };

interface ApiPeerMessage {
  conf?: { neighbor_address?: string; peer_asn?: number; description?: string } | null;
  state?: { session_state?: string; admin_state?: string } | null;
  timers?: { state?: { uptime?: { seconds?: number } | null; downtime?: { seconds?: number } | null } | null } | null;
  afi_safis?: Array<{ state?: { received?: number; accepted?: number; advertised?: number } | null }>;
}

/** Calico names its peers Mesh_…, Global_…, Node_… (bgp/config); the GoBGP description carries the name. */
function peerType(name: string): PeerType {
  return name.startsWith('Mesh_') ? 'mesh' : name.startsWith('Node_') ? 'node' : 'global';
}

/** A GoBGP Peer in the speaker's status vocabulary; `extra` is the speaker's own view, when it sent one. */
export function peerStatusFromApi(m: ApiPeerMessage, extra: PeerStatus | undefined): PeerStatus {
  const address = m.conf?.neighbor_address ?? '';
  const name = m.conf?.description || address;
  const state = m.state?.admin_state === 'DOWN' ? 'Idle' : (FSM_STATES[m.state?.session_state ?? ''] ?? 'Idle');
  const t = m.timers?.state?.uptime?.seconds || m.timers?.state?.downtime?.seconds;
  const sum = (k: 'received' | 'accepted' | 'advertised'): number => (m.afi_safis ?? []).reduce((n, f) => n + (f.state?.[k] ?? 0), 0);
  return {
    name,
    address,
    asNumber: m.conf?.peer_asn ?? 0,
    type: peerType(name),
    since: t ? new Date(t * 1000).toISOString() : '',
    info: state === 'Established' ? 'Established' : '',
    prefixesReceived: sum('received'),
    prefixesAccepted: sum('accepted'),
    prefixesAdvertised: sum('advertised'),
    ...extra,
    state,
  };
}

interface ApiPathMessage {
  pattrs?: ApiAny[];
  best?: boolean;
  stale?: boolean;
  neighbor_ip?: string;
}

const attr = (p: ApiPathMessage, type: string): ApiAny | undefined => p.pattrs?.find((a) => a['@type'].endsWith(`.${type}`));
const unspecified = (a: string | undefined): boolean => !a || a === '0.0.0.0' || a === '::';

/** A GoBGP Path of a destination in the speaker's route-status vocabulary. */
export function routeStatusFromApi(prefix: string, p: ApiPathMessage): RouteStatus {
  const hop = (attr(p, 'NextHopAttribute')?.next_hop as string | undefined) ?? (attr(p, 'MpReachNLRIAttribute')?.next_hops as string[] | undefined)?.[0];
  const segments = (attr(p, 'AsPathAttribute')?.segments ?? []) as Array<{ type?: string | number; numbers?: number[] }>;
  const asPath = segments.map((s) => (s.type === 'AS_SET' || s.type === 1 ? `{${(s.numbers ?? []).join(' ')}}` : (s.numbers ?? []).join(' '))).join(' ');
  const localPref = attr(p, 'LocalPrefAttribute')?.local_pref as number | undefined;
  const communities = (attr(p, 'CommunitiesAttribute')?.communities ?? []) as number[];
  return {
    prefix,
    nextHop: unspecified(hop) ? '' : (hop ?? ''),
    source: unspecified(p.neighbor_ip) ? 'local' : (p.neighbor_ip ?? ''),
    asPath,
    ...(localPref !== undefined ? { localPref } : {}),
    ...(communities.length ? { communities: communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
    best: !!p.best,
    ...(p.stale ? { stale: true } : {}),
  };
}

/** Runs `fn` with a client of the API at `address`, closed afterwards. */
export async function withApi<T>(address: string, fn: (c: GobgpClient) => Promise<T>, timeoutMs?: number): Promise<T> {
  const c = new GobgpClient(address, timeoutMs);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

export class GobgpClient {
  private readonly client: grpc.Client;
  private readonly service = gobgpService();

  constructor(
    readonly address: string = defaultApiAddress(),
    private readonly timeoutMs = 5000,
  ) {
    this.client = new grpc.Client(dialTarget(address), grpc.credentials.createInsecure(), { 'grpc.max_metadata_size': 64 * 1024 * 1024 });
  }

  close(): void {
    this.client.close();
  }

  private error(e: grpc.ServiceError): Error {
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) return new ApiUnavailableError(this.address, e.details || e.message);
    return Object.assign(new Error(`${this.address}: ${e.details || e.message}`), { code: e.code });
  }

  private unary<T>(method: string, req: object): Promise<T> {
    const d = this.service[method];
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, req, { deadline: Date.now() + this.timeoutMs }, (e, r) => (e ? reject(this.error(e)) : resolve(r as T))),
    );
  }

  private stream<T>(method: string, req: object, metadata = new grpc.Metadata()): Promise<{ items: T[]; trailer: grpc.Metadata }> {
    const d = this.service[method];
    return new Promise((resolve, reject) => {
      const items: T[] = [];
      let trailer = new grpc.Metadata();
      const s = this.client.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, req, metadata, { deadline: Date.now() + this.timeoutMs });
      s.on('data', (m: T) => items.push(m));
      s.on('status', (st: grpc.StatusObject) => (trailer = st.metadata));
      s.on('error', (e: grpc.ServiceError) => reject(this.error(e)));
      s.on('end', () => setImmediate(() => resolve({ items, trailer })));
    });
  }

  /** The router id and AS ('' and 0 while the process waits for its BGP configuration). */
  async getBgp(): Promise<BgpProcessInfo> {
    type Reply = { global?: { asn?: number; router_id?: string } };
    const r = await this.unary<Reply>('GetBgp', {}).catch((e: unknown): Reply => {
      if (notStarted(e)) return {};
      throw e;
    });
    return { routerId: r.global?.router_id ?? '', asNumber: r.global?.asn ?? 0 };
  }

  async peers(): Promise<PeerStatus[]> {
    const md = new grpc.Metadata();
    md.set(PEER_STATUS_REQUEST, '1');
    const r = await this.stream<{ peer?: ApiPeerMessage }>('ListPeer', {}, md).catch((e: unknown) => {
      if (notStarted(e)) return undefined;
      throw e;
    });
    if (!r) return [];
    const { items, trailer } = r;
    const raw = trailer.get(PEER_STATUS_TRAILER)[0];
    const extra = new Map<string, PeerStatus>(raw ? (JSON.parse(raw.toString()) as PeerStatus[]).map((p) => [p.address, p]) : []);
    return items.map((m) => peerStatusFromApi(m.peer ?? {}, extra.get(m.peer?.conf?.neighbor_address ?? '')));
  }

  /** Every path of the global table, both families. */
  async routes(): Promise<RouteStatus[]> {
    const out: RouteStatus[] = [];
    for (const afi of [1, 2]) {
      const r = await this.stream<{ destination?: { prefix: string; paths?: ApiPathMessage[] } }>('ListPath', { table_type: 'GLOBAL', family: { afi, safi: 1 } }).catch((e: unknown) => {
        if (notStarted(e)) return { items: [] };
        throw e;
      });
      for (const { destination: d } of r.items) for (const p of d?.paths ?? []) out.push(routeStatusFromApi(d?.prefix ?? '', p));
    }
    return out;
  }
}
