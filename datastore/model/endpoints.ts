// HostEndpoint (a host interface under policy) and WorkloadEndpoint (a pod's interface).
import { z } from 'zod';
import { ipSchema, macSchema, netSchema, protocolSchema } from './fields.js';

const endpointPort = z
  .object({
    name: z.string().min(1),
    protocol: protocolSchema,
    port: z.number().int().min(1).max(65535),
  })
  .strict();

export const hostEndpointSpecSchema = z
  .object({
    node: z.string().min(1).optional(),
    interfaceName: z.string().min(1).optional(),
    expectedIPs: z.array(ipSchema()).optional(),
    profiles: z.array(z.string().min(1)).optional(),
    ports: z.array(endpointPort).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.interfaceName === undefined && !spec.expectedIPs?.length) {
      ctx.addIssue({ code: 'custom', path: ['interfaceName'], message: 'one of interfaceName or expectedIPs is required' });
    }
  });

export type HostEndpointSpec = z.output<typeof hostEndpointSpecSchema>;

export const workloadEndpointSpecSchema = z
  .object({
    orchestrator: z.string().optional(),
    workload: z.string().optional(),
    node: z.string().optional(),
    containerID: z.string().optional(),
    pod: z.string().optional(),
    endpoint: z.string().optional(),
    serviceAccountName: z.string().optional(),
    ipNetworks: z.array(netSchema).optional(),
    ipNATs: z.array(z.object({ internalIP: ipSchema(), externalIP: ipSchema() }).strict()).optional(),
    ipv4Gateway: ipSchema(4).optional(),
    ipv6Gateway: ipSchema(6).optional(),
    profiles: z.array(z.string().min(1)).optional(),
    interfaceName: z.string().min(1).max(15, 'interface names are at most 15 characters').optional(),
    mac: macSchema.optional(),
    ports: z
      .array(endpointPort.extend({ hostPort: z.number().int().min(0).max(65535).optional(), hostIP: ipSchema().optional() }).strict())
      .optional(),
    allowSpoofedSourcePrefixes: z.array(netSchema).optional(),
  })
  .strict();

export type WorkloadEndpointSpec = z.output<typeof workloadEndpointSpecSchema>;
