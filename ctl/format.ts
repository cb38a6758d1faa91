// Pure rendering of resources for `get`: calicoctl's tables per kind, and YAML/JSON that
// re-applies unchanged (one resource → the document; several → a `<Kind>List` with items).
import { stringify } from 'yaml';
import type { Resource } from '../datastore/model/resource.js';
import { API_VERSION } from '../datastore/model/resource.js';
import { formatLabels, formatTable, type Cell } from './output.js';

export type OutputFormat = 'ps' | 'wide' | 'yaml' | 'json';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['ps', 'wide', 'yaml', 'json'];

export interface TableContext {
  /** -A: show the NAMESPACE column for namespaced kinds. */
  allNamespaces?: boolean;
  /** The cluster AS number (default BGPConfiguration), shown in brackets for nodes that inherit it. */
  defaultASNumber?: number | string;
}

/** apiVersion, kind, metadata, spec, status — the order people read and calicoctl prints. */
function ordered(r: Resource): Record<string, unknown> {
  const out: Record<string, unknown> = { apiVersion: r.apiVersion || API_VERSION, kind: r.kind, metadata: r.metadata, spec: r.spec ?? {} };
  if (r.status !== undefined) out.status = r.status;
  return out;
}

function listOf(kind: string, items: readonly Resource[], revision?: string): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: `${kind}List`,
    items: items.map(ordered),
    metadata: revision === undefined ? {} : { resourceVersion: revision },
  };
}

/** `single`: a NAME was asked for, so print the document itself even though it is one of a list. */
export function toYaml(kind: string, items: readonly Resource[], opts: { single?: boolean; revision?: string } = {}): string {
  if (opts.single && items.length === 1) return stringify(ordered(items[0]));
  return stringify(listOf(kind, items, opts.revision));
}

export function toJson(kind: string, items: readonly Resource[], opts: { single?: boolean; revision?: string } = {}): string {
  const v = opts.single && items.length === 1 ? ordered(items[0]) : listOf(kind, items, opts.revision);
  return JSON.stringify(v, null, 2) + '\n';
}

type Spec = Record<string, unknown>;
type Column = { header: string; cell: (r: Resource, spec: Spec, ctx: TableContext) => Cell };

const name: Column = { header: 'NAME', cell: (r) => r.metadata.name };
const namespace: Column = { header: 'NAMESPACE', cell: (r) => r.metadata.namespace };
const col = (header: string, field: string): Column => ({ header, cell: (_r, s) => show(s[field]) });

function show(v: unknown): Cell {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => String(x)).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return v as Cell;
}

function sub(spec: Spec, key: string): Spec {
  const v = spec[key];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Spec) : {};
}

const nodeASN: Column = {
  header: 'ASN',
  cell: (_r, s, ctx) => {
    const own = sub(s, 'bgp').asNumber;
    if (own !== undefined) return String(own);
    return ctx.defaultASNumber !== undefined ? `(${ctx.defaultASNumber})` : '';
  },
};

/** "used/size" of an IPAM block. */
function inUse(s: Spec): Cell {
  const a = s.allocations;
  return Array.isArray(a) ? `${a.filter((x) => x !== null).length}/${a.length}` : '';
}

function handleCount(s: Spec): Cell {
  return Object.values(sub(s, 'block')).reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0);
}

interface KindTable {
  ps: Column[];
  wide: Column[];
}

const TABLES: Record<string, KindTable> = {
  IPPool: {
    ps: [name, col('CIDR', 'cidr'), col('SELECTOR', 'nodeSelector')],
    wide: [
      name,
      col('CIDR', 'cidr'),
      col('NAT', 'natOutgoing'),
      col('IPIPMODE', 'ipipMode'),
      col('VXLANMODE', 'vxlanMode'),
      col('DISABLED', 'disabled'),
      col('DISABLEBGPEXPORT', 'disableBGPExport'),
      col('SELECTOR', 'nodeSelector'),
    ],
  },
  BGPPeer: {
    ps: [name, col('PEERIP', 'peerIP'), { header: 'NODE', cell: (_r, s) => (s.node as string) ?? (s.nodeSelector as string) ?? '(global)' }, col('ASN', 'asNumber')],
    wide: [],
  },
  BGPConfiguration: {
    ps: [name, col('LOGSEVERITY', 'logSeverityScreen'), { header: 'MESHENABLED', cell: (_r, s) => show(s.nodeToNodeMeshEnabled ?? true) }, col('ASNUMBER', 'asNumber')],
    wide: [],
  },
  BGPFilter: {
    ps: [name, ...(['exportV4', 'importV4', 'exportV6', 'importV6'] as const).map((k) => ({ header: k.toUpperCase(), cell: (_r: unknown, s: Record<string, unknown>) => show((s[k] as unknown[] | undefined)?.length ?? 0) }))],
    wide: [],
  },
  Node: {
    ps: [name],
    wide: [name, nodeASN, { header: 'IPV4', cell: (_r, s) => show(sub(s, 'bgp').ipv4Address) }, { header: 'IPV6', cell: (_r, s) => show(sub(s, 'bgp').ipv6Address) }],
  },
  NetworkPolicy: { ps: [name], wide: [name, col('ORDER', 'order'), col('SELECTOR', 'selector')] },
  GlobalNetworkPolicy: { ps: [name], wide: [name, col('ORDER', 'order'), col('SELECTOR', 'selector')] },
  Profile: { ps: [name], wide: [name, { header: 'LABELS', cell: (_r, s) => formatLabels(s.labelsToApply as Record<string, string> | undefined) }] },
  HostEndpoint: {
    ps: [name, col('NODE', 'node')],
    wide: [name, col('NODE', 'node'), col('INTERFACE', 'interfaceName'), col('IPS', 'expectedIPs'), col('PROFILES', 'profiles')],
  },
  WorkloadEndpoint: {
    ps: [{ header: 'WORKLOAD', cell: (r, s) => (s.workload as string) || (s.pod as string) || r.metadata.name }, col('NODE', 'node'), col('NETWORKS', 'ipNetworks'), col('INTERFACE', 'interfaceName')],
    wide: [name, { header: 'WORKLOAD', cell: (_r, s) => (s.workload as string) || (s.pod as string) }, col('NODE', 'node'), col('NETWORKS', 'ipNetworks'), col('INTERFACE', 'interfaceName'), col('PROFILES', 'profiles')],
  },
  IPAMBlock: {
    ps: [name, col('CIDR', 'cidr'), col('AFFINITY', 'affinity')],
    wide: [name, col('CIDR', 'cidr'), col('AFFINITY', 'affinity'), { header: 'IN USE', cell: (_r, s) => inUse(s) }, col('DELETED', 'deleted')],
  },
  IPAMHandle: { ps: [name, { header: 'IPS', cell: (_r, s) => handleCount(s) }], wide: [name, { header: 'IPS', cell: (_r, s) => handleCount(s) }, { header: 'BLOCKS', cell: (_r, s) => Object.keys(sub(s, 'block')).join(',') }] },
  IPAMConfig: { ps: [name, col('STRICTAFFINITY', 'strictAffinity'), col('AUTOALLOCATEBLOCKS', 'autoAllocateBlocks'), col('MAXBLOCKSPERHOST', 'maxBlocksPerHost')], wide: [] },
  IPReservation: { ps: [name, { header: 'CIDRS', cell: (_r, s) => ((s.reservedCIDRs as string[] | undefined) ?? []).join(',') }], wide: [] },
  BlockAffinity: { ps: [name, col('NODE', 'node'), col('CIDR', 'cidr'), col('STATE', 'state')], wide: [] },
};

/** A table for any kind: calicoctl's columns where it has them, NAME otherwise; -A adds NAMESPACE. */
export function toTable(kind: string, namespaced: boolean, items: readonly Resource[], wide: boolean, ctx: TableContext = {}): string {
  const t = TABLES[kind] ?? { ps: [name], wide: [] };
  let cols = wide && t.wide.length ? t.wide : t.ps;
  if (namespaced && ctx.allNamespaces) cols = [namespace, ...cols];
  const rows = items.map((r) => {
    const spec = (r.spec && typeof r.spec === 'object' ? r.spec : {}) as Spec;
    return cols.map((c) => c.cell(r, spec, ctx));
  });
  return formatTable(
    cols.map((c) => c.header),
    rows,
  );
}
