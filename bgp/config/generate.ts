// Calico's BGP semantics as a pure function: datastore resources in, this node's BGP speaker
// configuration out. Rules follow calico/node's confd bird templates (bird.cfg.template,
// bird6.cfg.template) and confd's BGPPeer resolution:
//  - mesh: every other node with an address of the family, skipping route reflectors (nodes with a
//    routeReflectorClusterID) and skipped entirely when this node is a reflector or the mesh is off;
//    `passive` when the PEER's address is greater than ours, compared as strings exactly like the
//    template's `gt` (so the lower address waits and the higher one connects; mixing our nodes with
//    calico/node BIRD nodes therefore never leaves both ends passive);
//  - explicit peers: `node` / `nodeSelector` scope them to nodes (`Node_…`), otherwise they are
//    global (`Global_…`); `peerSelector` expands to the matching nodes' addresses; a `peerIP` that is
//    a Calico node's address gets that node's listen port (no port given) and AS (no asNumber given),
//    and a global one follows the mesh's rule for who dials (confd's `calico_node` passive rule);
//    peerings between Calico nodes are applied in reverse too (the selected or addressed nodes peer
//    back with the nodes the BGPPeer applies to, as `Node_…`), explicit ones winning over reverse ones;
//  - `rr client` when the peer is iBGP, we have a cluster id and the peer's cluster id differs;
//  - keepOriginalNextHop (or nextHopMode Keep) only matters for eBGP peers;
import { cidrsOverlap, parseCIDR, parseIP, parsePeerIP, type ParsedCIDR } from '../../datastore/model/index.js';
import { durationSeconds } from '../../datastore/model/fields.js';
import { compileSelector, type CompiledSelector } from '../../datastore/selector/index.js';
import type { NamedBgpFilter } from '../policy/filter.js';
import type { BgpConfig, BgpConfigInput, BGPConfigurationInput, BGPPeerInput, ComputedPeer, ExportRoute, NodeInput } from './types.js';

export const DEFAULT_AS = 64512;
export const DEFAULT_LISTEN_PORT = 179;

interface NodeView {
  name: string;
  labels: Record<string, string>;
  v4?: string;
  v6?: string;
  as?: number;
  clusterId?: string;
}

function addressOf(cidr: string | undefined, family: 4 | 6): string | undefined {
  if (!cidr) return undefined;
  // Calico writes these in CIDR form; a bare address is accepted too.
  const p = parseCIDR(cidr) ?? parseIP(cidr);
  if (!p || p.family !== family) return undefined;
  return 'ip' in p ? p.ip : p.text;
}

function viewNode(n: NodeInput): NodeView {
  const b = n.spec.bgp;
  return {
    name: n.metadata.name,
    labels: n.metadata.labels ?? {},
    v4: addressOf(b?.ipv4Address, 4),
    v6: addressOf(b?.ipv6Address, 6),
    as: b?.asNumber,
    clusterId: b?.routeReflectorClusterID || undefined,
  };
}

/** Calico's protocol names: dots (v4) or colons (v6) become underscores, plus `_port_N`. */
export function peerName(kind: 'Mesh' | 'Global' | 'Node', ip: string, port?: number): string {
  const id = ip.replace(/[.:]/g, '_');
  return `${kind}_${id}${port !== undefined ? `_port_${port}` : ''}`;
}

/** Router id for a node without IPv4: a stable 32-bit hash of its name (Calico's CALICO_ROUTER_ID=hash idea). */
export function hashRouterId(name: string): string {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return [h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].join('.');
}

function findConfig(cfgs: readonly BGPConfigurationInput[], name: string): BGPConfigurationInput['spec'] | undefined {
  return cfgs.find((c) => c.metadata.name === name)?.spec;
}

function selectorOrThrow(sel: string, where: string): CompiledSelector {
  try {
    return compileSelector(sel);
  } catch (e) {
    throw new Error(`${where}: invalid selector ${JSON.stringify(sel)}: ${(e as Error).message}`);
  }
}

/** Parses "aa:nn" / "aa:nn:mm"; undefined when it is not a community value. */
function parseCommunity(s: string): { std?: number; large?: [number, number, number] } | undefined {
  if (!/^\d+(:\d+){1,2}$/.test(s)) return undefined;
  const p = s.split(':').map(Number);
  if (p.length === 2) return p.every((x) => x <= 0xffff) ? { std: ((p[0] << 16) | p[1]) >>> 0 } : undefined;
  return p.every((x) => x <= 0xffffffff) ? { large: [p[0], p[1], p[2]] } : undefined;
}

function inside(inner: ParsedCIDR, outer: ParsedCIDR): boolean {
  return inner.family === outer.family && inner.prefix >= outer.prefix && cidrsOverlap(inner, outer);
}

/** A Calico maxRestartTime as the whole seconds the GR capability carries (1–4095). */
function restartTimeOf(d: string | undefined): { maxRestartTime?: number } {
  if (d === undefined) return {};
  return { maxRestartTime: Math.min(4095, Math.max(1, Math.round(durationSeconds(d)))) };
}

export function computeBgpConfig(input: BgpConfigInput): BgpConfig {
  const notes: string[] = [];
  const nodes = input.nodes.map(viewNode);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const me = byName.get(input.nodeName);
  const global = findConfig(input.bgpConfigs, 'default') ?? {};
  const mine = findConfig(input.bgpConfigs, `node.${input.nodeName}`) ?? {};
  const globalAs = global.asNumber ?? DEFAULT_AS;
  const meshEnabled = global.nodeToNodeMeshEnabled ?? true;
  const listenPortOf = (name: string): number | undefined => findConfig(input.bgpConfigs, `node.${name}`)?.listenPort ?? global.listenPort;
  const asNumber = me?.as ?? globalAs;
  const listenPort = listenPortOf(input.nodeName) ?? DEFAULT_LISTEN_PORT;
  const base: BgpConfig = {
    nodeName: input.nodeName,
    routerId: me?.v4 ?? hashRouterId(input.nodeName),
    asNumber,
    listenPort,
    meshEnabled,
    ...(me?.clusterId ? { clusterId: me.clusterId } : {}),
    ...(me?.v4 ? { ipv4Address: me.v4 } : {}),
    ...(me?.v6 ? { ipv6Address: me.v6 } : {}),
    peers: [],
    exports: [],
    notes,
  };
  if (!me) {
    notes.push(`node ${JSON.stringify(input.nodeName)} does not exist: no BGP configuration`);
    return base;
  }
  if (!me.v4 && !me.v6) {
    notes.push(`node ${me.name} has neither spec.bgp.ipv4Address nor spec.bgp.ipv6Address: BGP is off on this node`);
    return base;
  }

  const peers = new Map<string, ComputedPeer>();
  const add = (p: ComputedPeer): void => {
    if (p.address === (p.family === 4 ? me.v4 : me.v6)) return; // never peer with ourselves
    if (!peers.has(p.name)) peers.set(p.name, p);
  };
  const rrClientFor = (peerAs: number, peerCluster: string | undefined): boolean =>
    peerAs === asNumber && me.clusterId !== undefined && peerCluster !== me.clusterId;

  // ---- node-to-node mesh
  if (me.clusterId) notes.push(`node ${me.name} is a route reflector (cluster ID ${me.clusterId}): node-to-node mesh setting ignored`);
  else if (!meshEnabled) notes.push('node-to-node mesh is disabled (BGPConfiguration default nodeToNodeMeshEnabled: false)');
  else {
    for (const other of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (other.name === me.name) continue;
      if (other.clusterId) {
        notes.push(`mesh: skipping ${other.name}, a route reflector with cluster ID ${other.clusterId}`);
        continue;
      }
      if (!other.v4 && !other.v6) notes.push(`mesh: skipping ${other.name}, it has no BGP address`);
      for (const family of [4, 6] as const) {
        const ours = family === 4 ? me.v4 : me.v6;
        const theirs = family === 4 ? other.v4 : other.v6;
        if (!ours || !theirs) continue;
        const port = listenPortOf(other.name);
        add({
          name: peerName('Mesh', theirs),
          family,
          address: theirs,
          asNumber: other.as ?? globalAs,
          type: 'mesh',
          ...(port !== undefined ? { port } : {}),
          passive: theirs > ours, // string comparison, as the template's `gt`
          rrClient: false,
          sourceAddress: ours,
          ...(global.nodeMeshPassword ? { passwordRef: global.nodeMeshPassword.secretKeyRef } : {}),
          ...restartTimeOf(global.nodeMeshMaxRestartTime),
        });
      }
    }
  }

  // ---- explicit BGPPeers
  const matching = (sel: CompiledSelector): NodeView[] => nodes.filter((n) => sel.matches(n.labels));
  /** Explicit peerings by address and port: the first one emitted wins (see the passes below). */
  const explicitAt = new Set<string>();
  const explicit = (res: BGPPeerInput, kind: 'Global' | 'Node', target: { ip: string; family: 4 | 6; port?: number; as: number; clusterId?: string }, passive = false): void => {
    const at = `${target.ip}|${target.port ?? ''}`;
    if (explicitAt.has(at)) return;
    const ours = target.family === 4 ? me.v4 : me.v6;
    if (!ours) {
      notes.push(`BGPPeer ${res.metadata.name}: peer ${target.ip} is IPv${target.family} but node ${me.name} has no IPv${target.family} BGP address`);
      return;
    }
    explicitAt.add(at);
    const ebgp = target.as !== asNumber;
    const keep = ebgp && (res.spec.keepOriginalNextHop === true || res.spec.nextHopMode === 'Keep');
    add({
      name: peerName(kind, target.ip, target.port),
      family: target.family,
      address: target.ip,
      asNumber: target.as,
      type: kind === 'Global' ? 'global' : 'node',
      ...(target.port !== undefined ? { port: target.port } : {}),
      passive,
      rrClient: rrClientFor(target.as, target.clusterId),
      ...((res.spec.sourceAddress ?? 'UseNodeIP') === 'UseNodeIP' ? { sourceAddress: ours } : {}),
      ...(keep ? { keepOriginalNextHop: true } : {}),
      ...(res.spec.password ? { passwordRef: res.spec.password.secretKeyRef } : {}),
      ...(res.spec.ttlSecurity ? { ttlSecurity: res.spec.ttlSecurity } : {}),
      ...filtersOf(res),
      ...(res.spec.numAllowedLocalASNumbers ? { numAllowedLocalASNumbers: res.spec.numAllowedLocalASNumbers } : {}),
      ...restartTimeOf(res.spec.maxRestartTime),
      source: res.metadata.name,
    });
  };
  const filterByName = new Map((input.filters ?? []).map((f) => [f.metadata.name, f]));
  /** BGPPeer.filters resolved in order; a name with no BGPFilter is skipped with a note (as confd renders nothing for it). */
  const filtersOf = (res: BGPPeerInput): { filters?: NamedBgpFilter[] } => {
    const out: NamedBgpFilter[] = [];
    for (const name of res.spec.filters ?? []) {
      const f = filterByName.get(name);
      if (f) out.push({ name, spec: f.spec });
      else notes.push(`BGPPeer ${res.metadata.name}: BGPFilter ${name} does not exist; skipped`);
    }
    return out.length ? { filters: out } : {};
  };
  const nodeTargets = (n: NodeView): Array<{ ip: string; family: 4 | 6; port?: number; as: number; clusterId?: string }> => {
    const port = listenPortOf(n.name);
    const out: Array<{ ip: string; family: 4 | 6; port?: number; as: number; clusterId?: string }> = [];
    for (const [family, ip] of [[4, n.v4], [6, n.v6]] as const) {
      if (ip) out.push({ ip, family, ...(port !== undefined ? { port } : {}), as: n.as ?? globalAs, ...(n.clusterId ? { clusterId: n.clusterId } : {}) });
    }
    return out;
  };
  /**
   * Nodes at a BGPPeer's peerIP whose AS and, when given, listen port match (confd's
   * nodesWithIPPortAndAS); without asNumber any AS matches, as the node's own AS is then used.
   */
  const nodesAt = (ip: string, as: number | undefined, port: number | undefined): NodeView[] =>
    nodes.filter((n) => (n.v4 === ip || n.v6 === ip) && (as === undefined || (n.as ?? globalAs) === as) && (port === undefined || (listenPortOf(n.name) ?? DEFAULT_LISTEN_PORT) === port));
  const isNodeAddress = (ip: string): boolean => nodes.some((n) => n.v4 === ip || n.v6 === ip);
  const clusterOfIp = (ip: string): string | undefined => nodes.find((n) => n.v4 === ip || n.v6 === ip)?.clusterId;
  const localNodes = (res: BGPPeerInput): NodeView[] | undefined =>
    res.spec.node !== undefined
      ? nodes.filter((n) => n.name === res.spec.node)
      : res.spec.nodeSelector !== undefined
        ? matching(selectorOrThrow(res.spec.nodeSelector, `BGPPeer ${res.metadata.name} spec.nodeSelector`))
        : undefined;

  // Calico's order (confd updatePeersV1): global BGPPeers first, then node-scoped ones (a scoped
  // peering to an address a global one already covers is dropped), then the reverse peerings that
  // make peerings between Calico nodes symmetric (an explicit one always wins over a reverse one).
  const sorted = [...input.peers].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const isScoped = (res: BGPPeerInput): boolean => res.spec.node !== undefined || res.spec.nodeSelector !== undefined;
  for (const globalPass of [true, false]) {
    for (const res of sorted) {
      if (isScoped(res) === globalPass) continue;
      const s = res.spec;
      const where = `BGPPeer ${res.metadata.name}`;
      const local = localNodes(res);
      if (local !== undefined && !local.some((n) => n.name === me.name)) continue;
      const kind = globalPass ? 'Global' : 'Node';
      if (s.peerSelector !== undefined) {
        const remote = matching(selectorOrThrow(s.peerSelector, `${where} spec.peerSelector`));
        for (const r of remote) if (r.name !== me.name) for (const t of nodeTargets(r)) explicit(res, kind, t);
        continue;
      }
      if (s.peerIP === undefined) {
        notes.push(`${where}: neither peerIP nor peerSelector set; ignored`);
        continue;
      }
      const addr = parsePeerIP(s.peerIP);
      if (!addr) {
        notes.push(`${where}: spec.peerIP ${JSON.stringify(s.peerIP)} is not an IP address; ignored`);
        continue;
      }
      if (addr.ip === me.v4 || addr.ip === me.v6) continue; // a BGPPeer at this node: see the reverse pass
      // A Calico node at peerIP: its listen port when the BGPPeer names none, and its AS when asNumber is left out.
      const node = nodesAt(addr.ip, s.asNumber, addr.port)[0];
      const as = s.asNumber ?? (node ? (node.as ?? globalAs) : undefined);
      if (as === undefined) {
        notes.push(`${where}: spec.asNumber is required with peerIP (unless the peer is a Calico node); ignored`);
        continue;
      }
      const port = addr.port ?? (node ? listenPortOf(node.name) : undefined);
      const cid = clusterOfIp(addr.ip);
      // The mesh's rule for global peerings with Calico nodes: the node with the greater address
      // (as a string) waits, the other dials (confd sets `passive` for type global / calico_node).
      const ours = addr.family === 4 ? me.v4 : me.v6;
      const passive = globalPass && isNodeAddress(addr.ip) && ours !== undefined && addr.ip > ours;
      explicit(res, kind, { ip: addr.ip, family: addr.family, ...(port !== undefined ? { port } : {}), as, ...(cid ? { clusterId: cid } : {}) }, passive);
    }
  }
  // Reverse peerings: this node is what a BGPPeer's peerSelector or peerIP names, so it peers back
  // with the nodes the BGPPeer applies to (every node when it is global): over both families for a
  // selector, over the peerIP's family for an address.
  for (const res of sorted) {
    const s = res.spec;
    if (s.reversePeering === 'Manual') continue;
    let fams: ReadonlyArray<4 | 6>;
    if (s.peerSelector !== undefined) {
      if (!matching(selectorOrThrow(s.peerSelector, `BGPPeer ${res.metadata.name} spec.peerSelector`)).some((n) => n.name === me.name)) continue;
      fams = [4, 6];
    } else {
      const addr = s.peerIP === undefined ? undefined : parsePeerIP(s.peerIP);
      if (!addr || !nodesAt(addr.ip, s.asNumber, addr.port).some((n) => n.name === me.name)) continue;
      fams = [addr.family];
      if (me.clusterId) notes.push(`BGPPeer ${res.metadata.name} points at this route reflector: peering back with the ${isScoped(res) ? 'nodes it applies to' : 'other nodes'}`);
    }
    for (const l of localNodes(res) ?? nodes) if (l.name !== me.name) for (const t of nodeTargets(l)) if (fams.includes(t.family)) explicit(res, 'Node', t);
  }

  const order = { mesh: 0, global: 1, node: 2 } as const;
  base.peers = [...peers.values()].sort((a, b) => order[a.type] - order[b.type] || a.family - b.family || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  base.exports = computeExports(input, global, mine, notes);
  return base;
}

function computeExports(
  input: BgpConfigInput,
  global: BGPConfigurationInput['spec'],
  mine: BGPConfigurationInput['spec'],
  notes: string[],
): ExportRoute[] {
  const pools = input.pools
    .map((p) => ({ name: p.metadata.name, cidr: parseCIDR(p.spec.cidr), exportable: !p.spec.disabled && !p.spec.disableBGPExport }))
    .filter((p): p is { name: string; cidr: ParsedCIDR; exportable: boolean } => p.cidr !== undefined);
  // Node-level prefixAdvertisements replace the cluster-wide ones, as in the template.
  const ads = (mine.prefixAdvertisements ?? global.prefixAdvertisements ?? []).map((a) => ({ cidr: parseCIDR(a.cidr), communities: a.communities ?? [] }));
  const named = new Map([...(global.communities ?? []), ...(mine.communities ?? [])].map((c) => [c.name, c.value]));
  const out = new Map<string, ExportRoute>();
  const consider = (c: ParsedCIDR | undefined, what: string): void => {
    if (!c) {
      notes.push(`export: ${what} is not a valid CIDR; skipped`);
      return;
    }
    const pool = pools.find((p) => inside(c, p.cidr));
    if (!pool) {
      notes.push(`export: ${c.network} is inside no IP pool; not advertised`);
      return;
    }
    if (!pool.exportable) {
      notes.push(`export: ${c.network} is in pool ${pool.name}, which is disabled or has disableBGPExport; not advertised`);
      return;
    }
    const [address, len] = c.network.split('/');
    const route: ExportRoute = { prefix: { family: c.family, address, length: Number(len) }, communities: [], largeCommunities: [] };
    for (const ad of ads) {
      if (!ad.cidr || !inside(c, ad.cidr)) continue;
      for (const name of ad.communities) {
        const v = parseCommunity(named.get(name) ?? name);
        if (v?.std !== undefined && !route.communities.includes(v.std)) route.communities.push(v.std);
        if (v?.large && !route.largeCommunities.some((l) => l.every((x, i) => x === v.large?.[i]))) route.largeCommunities.push(v.large);
      }
    }
    out.set(c.network, route);
  };
  for (const b of input.affinities) consider(parseCIDR(b), `block ${JSON.stringify(b)}`);
  for (const ip of input.borrowedIps) {
    const p = parseIP(ip);
    consider(p ? parseCIDR(`${p.text}/${p.family === 4 ? 32 : 128}`) : undefined, `borrowed address ${JSON.stringify(ip)}`);
  }
  return [...out.values()].sort((a, b) => a.prefix.family - b.prefix.family || (a.prefix.address < b.prefix.address ? -1 : a.prefix.address > b.prefix.address ? 1 : a.prefix.length - b.prefix.length));
}
