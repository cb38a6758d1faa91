// Node: one host running the agent, with its BGP identity and tunnel addresses.
import { z } from 'zod';
import { asNumberSchema, ipSchema, ipWithPrefixSchema, macSchema } from './fields.js';

export const nodeSpecSchema = z
  .object({
    bgp: z
      .object({
        asNumber: asNumberSchema.optional(),
        ipv4Address: ipWithPrefixSchema(4).optional(),
        ipv6Address: ipWithPrefixSchema(6).optional(),
        ipv4IPIPTunnelAddr: ipSchema(4).optional(),
        // Calico requires an IPv4-formatted cluster ID.
        routeReflectorClusterID: ipSchema(4).optional(),
      })
      .strict()
      .optional(),
    ipv4VXLANTunnelAddr: ipSchema(4).optional(),
    vxlanTunnelMACAddr: macSchema.optional(),
    ipv6VXLANTunnelAddr: ipSchema(6).optional(),
    vxlanTunnelMACAddrV6: macSchema.optional(),
    addresses: z
      .array(z.object({ address: z.string().min(1), type: z.enum(['InternalIP', 'ExternalIP', 'CalicoNodeIP']).optional() }).strict())
      .optional(),
    orchRefs: z.array(z.object({ nodeName: z.string().optional(), orchestrator: z.string().min(1) }).strict()).optional(),
    wireguard: z
      .object({ interfaceIPv4Address: ipSchema(4).optional(), interfaceIPv6Address: ipSchema(6).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type NodeSpec = z.output<typeof nodeSpecSchema>;
