// FelixConfiguration: dataplane agent settings ("default" cluster-wide, "node.<name>" per node).
// The commonly used subset of Calico's fields; unknown fields are refused like everywhere else.
import { z } from 'zod';
import { durationSchema, ipSchema, portNumber, protocolSchema } from './fields.js';

const severity = z.enum(['Debug', 'Info', 'Warning', 'Error', 'Fatal', 'None']);
const enabled = z.boolean().optional();

const hostPort = z
  .object({ protocol: protocolSchema.default('TCP'), port: z.number().int().min(0).max(65535), net: z.string().optional() })
  .strict();

export const felixConfigurationSpecSchema = z
  .object({
    logSeverityScreen: severity.optional(),
    logSeverityFile: severity.optional(),
    logSeveritySys: severity.optional(),
    logFilePath: z.string().optional(),
    logPrefix: z.string().optional(),
    ipipEnabled: enabled,
    ipipMTU: z.number().int().min(0).optional(),
    vxlanEnabled: enabled,
    vxlanMTU: z.number().int().min(0).optional(),
    vxlanMTUV6: z.number().int().min(0).optional(),
    vxlanPort: portNumber().optional(),
    vxlanVNI: z.number().int().min(1).max(16777215).optional(),
    wireguardEnabled: enabled,
    ipv6Support: enabled,
    bpfEnabled: enabled,
    xdpEnabled: enabled,
    defaultEndpointToHostAction: z.enum(['Drop', 'Accept', 'Return']).optional(),
    iptablesBackend: z.enum(['Legacy', 'NFT', 'Auto']).optional(),
    iptablesRefreshInterval: durationSchema.optional(),
    ipsetsRefreshInterval: durationSchema.optional(),
    routeRefreshInterval: durationSchema.optional(),
    reportingInterval: durationSchema.optional(),
    netlinkTimeout: durationSchema.optional(),
    interfacePrefix: z.string().optional(),
    interfaceExclude: z.string().optional(),
    chainInsertMode: z.enum(['Insert', 'Append']).optional(),
    failsafeInboundHostPorts: z.array(hostPort).optional(),
    failsafeOutboundHostPorts: z.array(hostPort).optional(),
    natOutgoingAddress: ipSchema(4).optional(),
    natPortRange: z.union([z.number(), z.string()]).optional(),
    prometheusMetricsEnabled: enabled,
    prometheusMetricsPort: portNumber().optional(),
    healthEnabled: enabled,
    healthHost: z.string().optional(),
    healthPort: portNumber().optional(),
    routeTableRange: z.object({ min: z.number().int().min(1), max: z.number().int().max(250) }).strict().optional(),
    deviceRouteProtocol: z.number().int().min(0).max(255).optional(),
    removeExternalRoutes: enabled,
    endpointReportingEnabled: enabled,
    allowIPIPPacketsFromWorkloads: enabled,
    allowVXLANPacketsFromWorkloads: enabled,
    serviceLoopPrevention: z.enum(['Drop', 'Reject', 'Disabled']).optional(),
    routeSource: z.enum(['CalicoIPAM', 'WorkloadIPs']).optional(),
    mtuIfacePattern: z.string().optional(),
    floatingIPs: z.enum(['Enabled', 'Disabled']).optional(),
    useInternalDataplaneDriver: enabled,
    dataplaneDriver: z.string().optional(),
  })
  .strict();

export type FelixConfigurationSpec = z.output<typeof felixConfigurationSpecSchema>;
