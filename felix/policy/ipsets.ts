// Members of the ipsets compiled rules refer to, from the cluster's endpoints: selector sets hold
// the addresses of the endpoints the selector matches (hash:net, "10.65.0.3/32"); named-port sets
// the address, protocol and port of the matching endpoints that declare that port name
// (hash:ip,port, "10.65.0.3,tcp:6379"); CIDR sets their CIDRs.
import { parseCIDR } from '../../datastore/model/net.js';
import type { Labels } from '../../datastore/selector/index.js';
import { ipsetProtocol, toProtocolNumber, type Family, type IpsetRequest } from './compile.js';
import { cachedSelector, endpointLabels } from './select.js';
import type { IpsetSpec, PolicyEndpoint } from './types.js';

/** The endpoint's networks of one family, in network form. */
export function endpointNets(ep: PolicyEndpoint, family: Family): string[] {
  const out: string[] = [];
  for (const n of ep.ipNetworks) {
    const c = parseCIDR(n.includes('/') ? n : `${n}/${n.includes(':') ? 128 : 32}`);
    if (c && c.family === family) out.push(c.network);
  }
  return out;
}

/** What one endpoint contributes to one set (empty when it is not a member). */
export function endpointMembers(req: IpsetRequest, ep: PolicyEndpoint, family: Family, labels: Labels = endpointLabels(ep)): string[] {
  if (req.kind === 'c') return [];
  if (!cachedSelector(req.selector).matches(labels)) return [];
  const nets = endpointNets(ep, family);
  if (req.kind === 's') return nets;
  const hostBits = family === 4 ? '/32' : '/128';
  const out: string[] = [];
  for (const p of ep.ports ?? []) {
    const proto = toProtocolNumber(p.protocol);
    if (p.name !== req.port || proto === undefined || ipsetProtocol(proto) !== req.protocol) continue;
    for (const n of nets) if (n.endsWith(hostBits)) out.push(`${n.slice(0, -hostBits.length)},${req.protocol}:${p.port}`);
  }
  return out;
}

export function ipsetSpec(req: IpsetRequest, family: Family, members: Iterable<string>): IpsetSpec {
  return {
    name: req.name,
    type: req.kind === 'n' ? 'hash:ip,port' : 'hash:net',
    family: family === 4 ? 'inet' : 'inet6',
    members: [...new Set(members)].sort(),
  };
}

/** A set computed from scratch over every endpoint. */
export function computeIpset(req: IpsetRequest, family: Family, endpoints: readonly PolicyEndpoint[]): IpsetSpec {
  if (req.kind === 'c') return ipsetSpec(req, family, req.nets);
  return ipsetSpec(req, family, endpoints.flatMap((ep) => endpointMembers(req, ep, family)));
}
