// BGPPeer (one remote speaker, global or per node) and BGPConfiguration (cluster/node BGP settings).
import { z } from 'zod';
import { asNumberSchema, canonicalCidrSchema, durationSchema, ipSchema, selectorSchema } from './fields.js';
import { parseIP } from './net.js';

export interface PeerAddress {
  ip: string;
  family: 4 | 6;
  port?: number;
}

/** Splits "10.0.0.1", "10.0.0.1:179", "fd00::1" or "[fd00::1]:179". */
export function parsePeerIP(s: string): PeerAddress | undefined {
  let host = s;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (!host.includes(':')) return undefined;
  } else if (/^[\d.]+:\d+$/.test(s)) {
    [host, portText] = s.split(':');
  }
  const ip = parseIP(host);
  if (!ip || (v6 && ip.family !== 6)) return undefined;
  if (portText === undefined) return { ip: ip.text, family: ip.family };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { ip: ip.text, family: ip.family, port };
}

function formatPeer(p: PeerAddress): string {
  if (p.port === undefined) return p.ip;
  return p.family === 6 ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

const peerIPSchema = z.string().transform((s, ctx) => {
  const p = parsePeerIP(s);
  if (!p) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid peer address (IPv4, IPv6, v4:port or [v6]:port)` });
    return z.NEVER;
  }
  return formatPeer(p);
});

export const bgpPeerSpecSchema = z
  .object({
    node: z.string().min(1).optional(),
    peerIP: peerIPSchema.optional(),
    asNumber: asNumberSchema.optional(),
    localASNumber: asNumberSchema.optional(),
    nodeSelector: selectorSchema.optional(),
    peerSelector: selectorSchema.optional(),
    keepOriginalNextHop: z.boolean().optional(),
    nextHopMode: z.enum(['Auto', 'Self', 'Keep']).optional(),
    password: z
      .object({ secretKeyRef: z.object({ name: z.string().min(1), key: z.string().min(1) }).strict() })
      .strict()
      .optional(),
    sourceAddress: z.enum(['UseNodeIP', 'None']).default('UseNodeIP'),
    failureDetectionMode: z.enum(['None', 'BFDIfDirectlyConnected']).optional(),
    restartMode: z.enum(['GracefulRestart', 'LongLivedGracefulRestart']).optional(),
    maxRestartTime: durationSchema.optional(),
    keepaliveTime: durationSchema.optional(),
    birdGatewayMode: z.enum(['Recursive', 'DirectIfDirectlyConnected']).optional(),
    numAllowedLocalASNumbers: z.number().int().min(1).max(10).optional(),
    ttlSecurity: z.number().int().min(0).max(255).optional(),
    filters: z.array(z.string().min(1)).optional(),
    reachableBy: ipSchema().optional(),
    localWorkloadSelector: selectorSchema.optional(),
    reversePeering: z.enum(['Auto', 'Manual']).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.node !== undefined && spec.nodeSelector !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['nodeSelector'], message: 'node and nodeSelector cannot both be set' });
    }
    if (spec.peerSelector === undefined && spec.peerIP === undefined && spec.localWorkloadSelector === undefined) {
      ctx.addIssue({ code: 'custom', path: ['peerIP'], message: 'one of peerIP or peerSelector is required' });
    }
    if (spec.peerSelector !== undefined && (spec.peerIP !== undefined || spec.asNumber !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['peerSelector'], message: 'peerSelector cannot be combined with peerIP or asNumber' });
    }
    // peerIP without asNumber is valid: a Calico node at that address peers with its own AS (the
    // generator notes a peerIP that is no node's, where the AS then cannot be known).
    if (spec.keepOriginalNextHop && spec.nextHopMode !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['nextHopMode'], message: 'keepOriginalNextHop and nextHopMode cannot both be set' });
    }
  });

export type BGPPeerSpec = z.output<typeof bgpPeerSpecSchema>;

const u16 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 4294967295;

/** "aa:nn" (standard, RFC 1997) or "aa:nn:mm" (large, RFC 8092). */
export function isCommunity(s: string): boolean {
  if (!/^\d+(:\d+){1,2}$/.test(s)) return false;
  const parts = s.split(':').map(Number);
  return parts.length === 2 ? parts.every(u16) : parts.every(u32);
}

const communityValue = z.string().refine(isCommunity, (s) => ({
  message: `${JSON.stringify(s)} is not a BGP community (aa:nn with 16-bit parts, or aa:nn:mm with 32-bit parts)`,
}));

const cidrList = z.array(z.object({ cidr: canonicalCidrSchema }).strict());

export const bgpConfigurationSpecSchema = z
  .object({
    logSeverityScreen: z.enum(['Debug', 'Info', 'Warning', 'Error', 'Fatal']).default('Info'),
    nodeToNodeMeshEnabled: z.boolean().optional(),
    asNumber: asNumberSchema.optional(),
    listenPort: z.number().int().min(1).max(65535).optional(),
    bindMode: z.enum(['None', 'NodeIP']).optional(),
    serviceClusterIPs: cidrList.optional(),
    serviceExternalIPs: cidrList.optional(),
    serviceLoadBalancerIPs: cidrList.optional(),
    communities: z.array(z.object({ name: z.string().regex(/^[a-zA-Z0-9-]+$/, 'community names are alphanumerics and "-"'), value: communityValue }).strict()).optional(),
    prefixAdvertisements: z.array(z.object({ cidr: canonicalCidrSchema, communities: z.array(z.string().min(1)).default([]) }).strict()).optional(),
    nodeMeshPassword: z.object({ secretKeyRef: z.object({ name: z.string().min(1), key: z.string().min(1) }).strict() }).strict().optional(),
    nodeMeshMaxRestartTime: durationSchema.optional(),
    ignoredInterfaces: z.array(z.string().min(1)).optional(),
    localWorkloadPeeringIPV4: ipSchema(4).optional(),
    localWorkloadPeeringIPV6: ipSchema(6).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const names = new Set((spec.communities ?? []).map((c) => c.name));
    (spec.prefixAdvertisements ?? []).forEach((pa, i) =>
      pa.communities.forEach((c, j) => {
        if (!names.has(c) && !isCommunity(c)) {
          ctx.addIssue({ code: 'custom', path: ['prefixAdvertisements', i, 'communities', j], message: `${JSON.stringify(c)} is neither a defined community name nor a community value` });
        }
      }),
    );
  });

export type BGPConfigurationSpec = z.output<typeof bgpConfigurationSpecSchema>;

export const DEFAULT_AS_NUMBER = 64512;

/** Cluster-wide defaults live only on the resource named "default", as in Calico. */
export function defaultBGPConfiguration(name: string, spec: BGPConfigurationSpec): BGPConfigurationSpec {
  if (name !== 'default') return spec;
  return { ...spec, nodeToNodeMeshEnabled: spec.nodeToNodeMeshEnabled ?? true, asNumber: spec.asNumber ?? DEFAULT_AS_NUMBER };
}

/**
 * BGPFilter (Calico 3.25+): import/export rules per family, referenced from BGPPeer.filters. A rule
 * with `cidr` needs `matchOperator` and the other way round; `cidr` must be of the rule list's family.
 */
function bgpFilterRules(family: 4 | 6) {
  const max = family === 4 ? 32 : 128;
  return z.array(
    z
      .object({
        action: z.enum(['Accept', 'Reject']),
        cidr: canonicalCidrSchema.optional(),
        matchOperator: z.enum(['Equal', 'NotEqual', 'In', 'NotIn']).optional(),
        prefixLength: z.object({ min: z.number().int().min(0).max(max).optional(), max: z.number().int().min(0).max(max).optional() }).strict().optional(),
        source: z.enum(['RemotePeers']).optional(),
        interface: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((r, ctx) => {
        if ((r.cidr === undefined) !== (r.matchOperator === undefined)) {
          ctx.addIssue({ code: 'custom', path: [r.cidr === undefined ? 'cidr' : 'matchOperator'], message: 'cidr and matchOperator must be set together' });
        }
        if (r.cidr !== undefined && r.cidr.includes(':') !== (family === 6)) {
          ctx.addIssue({ code: 'custom', path: ['cidr'], message: `${r.cidr} is not an IPv${family} CIDR` });
        }
        const p = r.prefixLength;
        if (p?.min !== undefined && p.max !== undefined && p.min > p.max) ctx.addIssue({ code: 'custom', path: ['prefixLength'], message: 'min must not exceed max' });
        const cidrLen = r.cidr ? Number(r.cidr.split('/')[1]) : undefined;
        if (p?.min !== undefined && cidrLen !== undefined && p.min < cidrLen) {
          ctx.addIssue({ code: 'custom', path: ['prefixLength', 'min'], message: `must be at least the CIDR's length ${cidrLen}` });
        }
      }),
  );
}

export const bgpFilterSpecSchema = z
  .object({
    exportV4: bgpFilterRules(4).optional(),
    importV4: bgpFilterRules(4).optional(),
    exportV6: bgpFilterRules(6).optional(),
    importV6: bgpFilterRules(6).optional(),
  })
  .strict();

export type BGPFilterSpec = z.output<typeof bgpFilterSpecSchema>;
