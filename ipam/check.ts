// `ipam check`: reads the whole IPAM state once and reports what is inconsistent or leaked.
// Pure analysis (analyse) over a snapshot (snapshot reads the datastore), so it is unit-testable.
import type { Store } from '../datastore/store.js';
import { inUseCount, ordinalToIp } from './block.js';
import { affinityHost, parseAffinity, parseBlock, parseHandle, type AffinityState, type AllocationBlock, type IpamHandle } from './model.js';

export interface Snapshot {
  /** Opaque revisions of the block listing (the first of the reads). */
  revision: string;
  blocks: { cidr: string; revision: string; block: AllocationBlock }[];
  affinities: { host: string; cidr: string; state: AffinityState; revision: string }[];
  handles: Map<string, IpamHandle>;
  handleRevisions: Map<string, string>;
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
  revision: string;
  problem: 'pending' | 'orphaned' | 'node-missing';
}

export interface CheckReport {
  revision: string;
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
  handleMismatches: { handle: string; block: string; handleCount: number; blockCount: number; handleRevision?: string }[];
  corrupt: { key: string; problem: string }[];
}

const TUNNEL_HANDLE = /^(ipip-tunnel-addr|vxlan-tunnel-addr|vxlan-v6-tunnel-addr|wireguard-tunnel-addr|wireguard-v6-tunnel-addr)-(.+)$/;
const K8S_HANDLE = /^k8s-pod-network\.(.+)$/;

export async function snapshot(store: Store): Promise<Snapshot> {
  const s: Snapshot = {
    revision: '',
    blocks: [],
    affinities: [],
    handles: new Map(),
    handleRevisions: new Map(),
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
  const name = (kind: string, n: string): string => `${kind}(${n})`;
  const blocks = await store.list('IPAMBlock');
  s.revision = blocks.revision;
  for (const o of blocks.items) {
    const block = guard(name('IPAMBlock', o.key.name), () => parseBlock(name('IPAMBlock', o.key.name), o.value.spec));
    if (block) s.blocks.push({ cidr: block.cidr, revision: o.revision, block });
  }
  for (const o of (await store.list('BlockAffinity')).items) {
    const spec = o.value.spec as { node?: unknown; cidr?: unknown };
    const a = guard(name('BlockAffinity', o.key.name), () => parseAffinity(name('BlockAffinity', o.key.name), o.value.spec));
    if (a && typeof spec.node === 'string' && typeof spec.cidr === 'string') s.affinities.push({ host: spec.node, cidr: spec.cidr, state: a.state, revision: o.revision });
  }
  for (const o of (await store.list('IPAMHandle')).items) {
    const h = guard(name('IPAMHandle', o.key.name), () => parseHandle(name('IPAMHandle', o.key.name), o.value.spec));
    if (h) {
      s.handles.set(h.handleID, h);
      s.handleRevisions.set(h.handleID, o.revision);
    }
  }
  for (const o of (await store.list('Node')).items) s.nodes.add(o.key.name);
  for (const o of (await store.list('WorkloadEndpoint')).items) {
    const w = o.value.spec as { ipNetworks?: unknown; containerID?: unknown } | undefined;
    if (Array.isArray(w?.ipNetworks)) for (const n of w.ipNetworks) if (typeof n === 'string') s.wepIps.add(n.split('/')[0]);
    if (typeof w?.containerID === 'string') s.wepContainers.add(w.containerID);
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
      if (hc !== bc) {
        const rev = s.handleRevisions.get(id);
        handleMismatches.push({ handle: id, block: cidr, handleCount: hc, blockCount: bc, ...(rev ? { handleRevision: rev } : {}) });
      }
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

export async function checkIpam(store: Store): Promise<CheckReport> {
  return analyse(await snapshot(store));
}
