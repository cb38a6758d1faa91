// The JSON config file of the standalone speaker (bgp/cli.ts): parsed with zod so a bad file
// names the field, and turned into SpeakerConfig / PeerConfig / originated routes.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { bgpFilterSpecSchema } from '../../datastore/model/bgp.js';
import type { PathAttributes, Prefix } from '../types.js';
import type { PeerConfig, SpeakerConfig } from './types.js';

const asn = z.number().int().min(1).max(4294967295);
const ip = z.string().refine((s) => ipaddr.isValid(s), 'not an IP address');

const peerSchema = z
  .object({
    name: z.string().optional(),
    address: ip,
    asNumber: asn,
    type: z.enum(['mesh', 'global', 'node']).default('global'),
    port: z.number().int().min(1).max(65535).optional(),
    passive: z.boolean().optional(),
    rrClient: z.boolean().optional(),
    sourceAddress: ip.optional(),
    keepOriginalNextHop: z.boolean().optional(),
    holdTime: z.number().int().min(0).max(65535).optional(),
    password: z.string().min(1).max(80).optional(),
    ttlSecurity: z.number().int().min(1).max(255).optional(),
    numAllowedLocalASNumbers: z.number().int().min(1).max(10).optional(),
    maxRestartTime: z.number().int().min(1).max(4095).optional(),
    filters: z.array(z.object({ name: z.string().min(1), spec: bgpFilterSpecSchema }).strict()).optional(),
  })
  .strict();

const originateSchema = z
  .object({
    prefix: z.string(),
    communities: z.array(z.string().regex(/^\d+:\d+$/, 'community must be ASN:VALUE')).optional(),
    largeCommunities: z.array(z.string().regex(/^\d+:\d+:\d+$/, 'large community must be A:B:C')).optional(),
    med: z.number().int().min(0).optional(),
    localPref: z.number().int().min(0).optional(),
  })
  .strict();

export const fileConfigSchema = z
  .object({
    asNumber: asn,
    routerId: z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), 'router id must be a dotted quad'),
    listenPort: z.number().int().min(0).max(65535).optional(),
    listenAddresses: z.array(ip).optional(),
    clusterId: z.string().optional(),
    holdTime: z.number().int().min(0).max(65535).refine((h) => h === 0 || h >= 3, 'hold time must be 0 or ≥ 3').optional(),
    connectRetryTime: z.number().positive().optional(),
    connectRetryMax: z.number().positive().optional(),
    errorWait: z.tuple([z.number().positive(), z.number().positive()]).optional(),
    families: z.array(z.union([z.literal(4), z.literal(6)])).optional(),
    mraiMs: z.number().int().min(0).optional(),
    gracefulRestart: z
      .object({
        restartTime: z.number().int().min(1).max(4095).optional(),
        restarting: z.boolean().optional(),
        forwardingFamilies: z.array(z.union([z.literal(4), z.literal(6)])).optional(),
        deferralTime: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    peers: z.array(peerSchema).default([]),
    originate: z.array(originateSchema).default([]),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).optional(),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;

export function parsePrefix(s: string): Prefix {
  const [addr, len] = ipaddr.parseCIDR(s);
  const family = addr.kind() === 'ipv4' ? 4 : 6;
  const net = family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(s) : ipaddr.IPv6.networkAddressFromCIDR(s);
  return { family, address: net.toString(), length: len };
}

function community(s: string): number {
  const [a, b] = s.split(':').map(Number);
  if (a > 0xffff || b > 0xffff) throw new Error(`community ${s}: each half must be ≤ 65535`);
  return ((a << 16) | b) >>> 0;
}

export function originatedRoutes(cfg: FileConfig): Array<{ prefix: Prefix; attrs: Partial<PathAttributes> }> {
  return cfg.originate.map((o) => ({
    prefix: parsePrefix(o.prefix),
    attrs: {
      ...(o.communities ? { communities: o.communities.map(community) } : {}),
      ...(o.largeCommunities ? { largeCommunities: o.largeCommunities.map((l) => l.split(':').map(Number) as [number, number, number]) } : {}),
      ...(o.med !== undefined ? { med: o.med } : {}),
      ...(o.localPref !== undefined ? { localPref: o.localPref } : {}),
    },
  }));
}

/** Parses a config document; errors name the field path. */
export function parseFileConfig(json: unknown): { ok: true; config: FileConfig } | { ok: false; error: string } {
  const r = fileConfigSchema.safeParse(json);
  if (!r.success) return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  for (const [i, o] of r.data.originate.entries()) {
    try {
      parsePrefix(o.prefix);
    } catch {
      return { ok: false, error: `originate.${i}.prefix: not a CIDR: ${o.prefix}` };
    }
  }
  return { ok: true, config: r.data };
}

export function speakerConfig(c: FileConfig): SpeakerConfig {
  const { peers: _p, originate: _o, logLevel: _l, ...rest } = c;
  return rest;
}

export function peerConfigs(c: FileConfig): PeerConfig[] {
  return c.peers;
}
