// `ipam check`: reads the whole IPAM state once and reports what is inconsistent or leaked.
// Pure analysis (analyse) over a snapshot (snapshot reads the datastore), so it is unit-testable.
import type { Backend } from '../datastore/backend.js';
import { hostAffinityPrefix, ipamBlockPrefix, IPAM_HANDLE_PREFIX, keyPartToCidr, resourceListPrefix } from '../datastore/keys.js';
import { inUseCount, ordinalToIp } from './block.js';
import { affinityHost, parseAffinity, parseBlock, parseHandle, type AffinityState, type AllocationBlock, type IpamHandle } from './model.js';

export interface Snapshot {
  revision: number;
  blocks: { cidr: string; modRevision: number; block: AllocationBlock }[];
  affinities: { host: string; cidr: string; state: AffinityState; modRevision: number }[];
  handles: Map<string, IpamHandle>;
  nodes: Set<string>;
  /** IPs named by WorkloadEndpoints, and their container IDs. */
  wepIps: Set<string>;
  wepContainers: Set<string>;
  /** Records that could not be parsed: key → problem. */
  corrupt: { key: string; problem: string }[];
}

export interface LeakedAllocation {
  ip: string;
  block: string;
  handle: string | null;
  sequenceNumber: number | undefined;
  reason: 'no-workload-endpoint' | 'tunnel-of-missing-node' | 'no-handle';
}

export interface AffinityProblem {
  host: string;
  cidr: string;
  state: AffinityState;
  modRevision: number;
  problem: 'pending' | 'orphaned' | 'node-missing';
}

export interface CheckReport {
  revision: number;
  summary: {
    blocks: number;
    allocations: number;
    leaked: number;
    duplicates: number;
    affinityProblems: number;
    pendingAffinities: number;
    blocksOfDeletedNodes: number;
    handleMismatches: number;
    corrupt: number;
  };
  leaks: LeakedAllocation[];
  duplicates: string[];
  affinities: AffinityProblem[];
  blocksOfDeletedNodes: { cidr: string; host: string; inUse: number }[];
  handleMismatches: { handle: string; block: string; handleCount: number; blockCount: number }[];
  corrupt: { key: string; problem: string }[];
}

const TUNNEL_HANDLE = /^(ipip-tunnel-addr|vxlan-tunnel-addr|vxlan-v6-tunnel-addr|wireguard-tunnel-addr|wireguard-v6-tunnel-addr)-(.+)$/;
const K8S_HANDLE = /^k8s-pod-network\.(.+)$/;

export async function snapshot(be: Backend): Promise<Snapshot> {
  const s: Snapshot = {
    revision: 0,
    blocks: [],
    affinities: [],
    handles: new Map(),
    nodes: new Set(),
    wepIps: new Set(),
    wepContainers: new Set(),
    corrupt: [],
  };
  const guard = <T>(key: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      s.corrupt.push({ key, problem: (e as Error).message });
      return undefined;
    }
  };
  for (const f of [4, 6] as const) {
    const prefix = ipamBlockPrefix(f);
    const r = await be.list(prefix);
    s.revision = Math.max(s.revision, r.revision);
    for (const kv of r.items) {
      const block = guard(kv.key, () => parseBlock(kv.key, kv.value));
      if (block) s.blocks.push({ cidr: keyPartToCidr(kv.key.slice(prefix.length)), modRevision: kv.modRevision, block });
    }
  }
  const affPrefix = hostAffinityPrefix();
  for (const kv of (await be.list(affPrefix)).items) {
    // <host>/ipv4/block/<cidr>
    const m = /^(.+)\/ipv[46]\/block\/(.+)$/.exec(kv.key.slice(affPrefix.length));
    const a = guard(kv.key, () => parseAffinity(kv.key, kv.value));
    if (m && a) s.affinities.push({ host: m[1], cidr: keyPartToCidr(m[2]), state: a.state, modRevision: kv.modRevision });
  }
  for (const kv of (await be.list(IPAM_HANDLE_PREFIX)).items) {
    const h = guard(kv.key, () => parseHandle(kv.key, kv.value));
    if (h) s.handles.set(h.handleID, h);
  }
  for (const kv of (await be.list(resourceListPrefix('nodes'))).items) s.nodes.add(kv.key.slice(kv.key.lastIndexOf('/') + 1));
  for (const kv of (await be.list(resourceListPrefix('workloadendpoints'))).items) {
    const w = guard(kv.key, () => JSON.parse(kv.value) as { spec?: { ipNetworks?: string[]; containerID?: string } });
    for (const n of w?.spec?.ipNetworks ?? []) s.wepIps.add(n.split('/')[0]);
    if (w?.spec?.containerID) s.wepContainers.add(w.spec.containerID);
  }
  return s;
}

/** Pure: the report for a snapshot. */
export function analyse(s: Snapshot): CheckReport {
  const leaks: LeakedAllocation[] = [];
  const seen = new Map<string, number>();
  const perHandle = new Map<string, Map<string, number>>();
  let allocations = 0;
  for (const { cidr, block } of s.blocks) {
    block.allocations.forEach((idx, ord) => {
      if (idx === null) return;
      allocations++;
      const ip = ordinalToIp(block, ord);
      seen.set(ip, (seen.get(ip) ?? 0) + 1);
      const handle = block.attributes[idx]?.handle_id ?? null;
      if (handle) {
        const m = perHandle.get(handle) ?? new Map<string, number>();
        m.set(cidr, (m.get(cidr) ?? 0) + 1);
        perHandle.set(handle, m);
      }
      const seq = block.sequenceNumberForAllocation[String(ord)];
      const tunnel = handle ? TUNNEL_HANDLE.exec(handle) : null;
      if (tunnel) {
        if (!s.nodes.has(tunnel[2])) leaks.push({ ip, block: cidr, handle, sequenceNumber: seq, reason: 'tunnel-of-missing-node' });
        return;
      }
      if (s.wepIps.has(ip)) return;
      const k8s = handle ? K8S_HANDLE.exec(handle) : null;
      if (k8s && s.wepContainers.has(k8s[1])) return;
      leaks.push({ ip, block: cidr, handle, sequenceNumber: seq, reason: handle ? 'no-workload-endpoint' : 'no-handle' });
    });
  }
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([ip]) => ip);

  const blockByCidr = new Map(s.blocks.map((b) => [b.cidr, b.block]));
  const affinities: AffinityProblem[] = [];
  for (const a of s.affinities) {
    const b = blockByCidr.get(a.cidr);
    if (a.state === 'pending' || a.state === 'pendingDeletion') affinities.push({ ...a, problem: 'pending' });
    else if (!b || affinityHost(b) !== a.host) affinities.push({ ...a, problem: 'orphaned' });
    else if (!s.nodes.has(a.host)) affinities.push({ ...a, problem: 'node-missing' });
  }
  const blocksOfDeletedNodes = s.blocks
    .filter((b) => {
      const h = affinityHost(b.block);
      return h !== undefined && !s.nodes.has(h);
    })
    .map((b) => ({ cidr: b.cidr, host: affinityHost(b.block) ?? '', inUse: inUseCount(b.block) }));

  const handleMismatches: CheckReport['handleMismatches'] = [];
  const handleIds = new Set([...s.handles.keys(), ...perHandle.keys()]);
  for (const id of handleIds) {
    const stored = s.handles.get(id)?.block ?? {};
    const actual = perHandle.get(id) ?? new Map<string, number>();
    for (const cidr of new Set([...Object.keys(stored), ...actual.keys()])) {
      const hc = stored[cidr] ?? 0;
      const bc = actual.get(cidr) ?? 0;
      if (hc !== bc) handleMismatches.push({ handle: id, block: cidr, handleCount: hc, blockCount: bc });
    }
  }
  return {
    revision: s.revision,
    summary: {
      blocks: s.blocks.length,
      allocations,
      leaked: leaks.length,
      duplicates: duplicates.length,
      affinityProblems: affinities.length,
      pendingAffinities: affinities.filter((a) => a.problem === 'pending').length,
      blocksOfDeletedNodes: blocksOfDeletedNodes.length,
      handleMismatches: handleMismatches.length,
      corrupt: s.corrupt.length,
    },
    leaks,
    duplicates,
    affinities,
    blocksOfDeletedNodes,
    handleMismatches,
    corrupt: s.corrupt,
  };
}

export async function checkIpam(be: Backend): Promise<CheckReport> {
  return analyse(await snapshot(be));
}
