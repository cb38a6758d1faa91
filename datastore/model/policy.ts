// Policy rules and the kinds that carry them: NetworkPolicy (namespaced), GlobalNetworkPolicy,
// Profile. Rule validation follows Calico: ports only with TCP/UDP/SCTP/UDPLite, icmp only
// with ICMP/ICMPv6, icmp.code needs icmp.type, nets and icmp agree with ipVersion.
import { z } from 'zod';
import { labelsSchema, netSchema, portSchema, protocolNumber, protocolSchema, selectorSchema, type ProtocolName } from './fields.js';
import { parseCIDR } from './net.js';

const icmpSchema = z
  .object({ type: z.number().int().min(0).max(254).optional(), code: z.number().int().min(0).max(255).optional() })
  .strict()
  .superRefine((v, ctx) => {
    if (v.code !== undefined && v.type === undefined) ctx.addIssue({ code: 'custom', path: ['code'], message: 'icmp code requires type' });
  });

export const entityRuleSchema = z
  .object({
    nets: z.array(netSchema).optional(),
    notNets: z.array(netSchema).optional(),
    selector: selectorSchema.optional(),
    notSelector: selectorSchema.optional(),
    namespaceSelector: selectorSchema.optional(),
    ports: z.array(portSchema).optional(),
    notPorts: z.array(portSchema).optional(),
    serviceAccounts: z.object({ names: z.array(z.string().min(1)).optional(), selector: selectorSchema.optional() }).strict().optional(),
    services: z.object({ name: z.string().min(1), namespace: z.string().optional() }).strict().optional(),
  })
  .strict();

export type EntityRule = z.output<typeof entityRuleSchema>;

export const ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;

/** Protocols (by number) whose rules may name ports. */
const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

export const ruleSchema = z
  .object({
    action: z.enum(ACTIONS),
    ipVersion: z.union([z.literal(4), z.literal(6)]).optional(),
    protocol: protocolSchema.optional(),
    notProtocol: protocolSchema.optional(),
    icmp: icmpSchema.optional(),
    notICMP: icmpSchema.optional(),
    source: entityRuleSchema.optional(),
    destination: entityRuleSchema.optional(),
    http: z
      .object({ methods: z.array(z.string()).optional(), paths: z.array(z.record(z.string())).optional() })
      .strict()
      .optional(),
    metadata: z.object({ annotations: z.record(z.string()).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const proto = rule.protocol === undefined ? undefined : protocolNumber(rule.protocol as ProtocolName | number);
    for (const side of ['source', 'destination'] as const) {
      const e = rule[side];
      if (!e) continue;
      for (const field of ['ports', 'notPorts'] as const) {
        if (e[field]?.length && (proto === undefined || !PORT_PROTOCOLS.has(proto))) {
          ctx.addIssue({ code: 'custom', path: [side, field], message: 'ports are only allowed with protocol TCP, UDP, SCTP or UDPLite' });
        }
      }
      for (const field of ['nets', 'notNets'] as const) {
        (e[field] ?? []).forEach((n, i) => {
          const fam = parseCIDR(n)?.family;
          if (rule.ipVersion !== undefined && fam !== rule.ipVersion) {
            ctx.addIssue({ code: 'custom', path: [side, field, i], message: `${n} is not an IPv${rule.ipVersion} network (rule ipVersion is ${rule.ipVersion})` });
          }
        });
      }
    }
    for (const field of ['icmp', 'notICMP'] as const) {
      if (rule[field] === undefined) continue;
      if (proto !== 1 && proto !== 58) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} is only allowed with protocol ICMP or ICMPv6` });
      } else if (rule.ipVersion !== undefined && rule.ipVersion !== (proto === 1 ? 4 : 6)) {
        ctx.addIssue({ code: 'custom', path: ['ipVersion'], message: `protocol ${rule.protocol} does not match ipVersion ${rule.ipVersion}` });
      }
    }
  });

export type Rule = z.output<typeof ruleSchema>;
export type PolicyType = 'Ingress' | 'Egress';

/**
 * Calico's defaulting of `types`: ingress-only when there are no egress rules (even with no
 * rules at all), egress-only when there are only egress rules, both when both are present.
 */
export function defaultPolicyTypes(ingress: readonly Rule[] | undefined, egress: readonly Rule[] | undefined): PolicyType[] {
  if (!egress?.length) return ['Ingress'];
  if (!ingress?.length) return ['Egress'];
  return ['Ingress', 'Egress'];
}

const policyTypes = z.array(z.enum(['Ingress', 'Egress'])).superRefine((types, ctx) => {
  if (new Set(types).size !== types.length) ctx.addIssue({ code: 'custom', message: 'types lists a value twice' });
});

const policyFields = {
  tier: z.string().default('default'),
  order: z.number().optional(),
  selector: selectorSchema.default('all()'),
  types: policyTypes.optional(),
  ingress: z.array(ruleSchema).optional(),
  egress: z.array(ruleSchema).optional(),
  serviceAccountSelector: selectorSchema.optional(),
  performanceHints: z.array(z.enum(['AssumeNeededOnEveryNode'])).optional(),
};

interface PolicyLike {
  types?: PolicyType[];
  ingress?: Rule[];
  egress?: Rule[];
}

function finishPolicy<T extends PolicyLike>(spec: T, ctx: z.RefinementCtx): T & { types: PolicyType[] } {
  const types = spec.types?.length ? spec.types : defaultPolicyTypes(spec.ingress, spec.egress);
  if (spec.ingress?.length && !types.includes('Ingress')) {
    ctx.addIssue({ code: 'custom', path: ['types'], message: 'ingress rules are given but types does not include Ingress' });
  }
  if (spec.egress?.length && !types.includes('Egress')) {
    ctx.addIssue({ code: 'custom', path: ['types'], message: 'egress rules are given but types does not include Egress' });
  }
  return { ...spec, types };
}

export const networkPolicySpecSchema = z
  .object(policyFields)
  .strict()
  .transform((spec, ctx) => finishPolicy(spec, ctx));

export type NetworkPolicySpec = z.output<typeof networkPolicySpecSchema>;

export const globalNetworkPolicySpecSchema = z
  .object({
    ...policyFields,
    namespaceSelector: selectorSchema.optional(),
    doNotTrack: z.boolean().optional(),
    preDNAT: z.boolean().optional(),
    applyOnForward: z.boolean().optional(),
  })
  .strict()
  .transform((spec, ctx) => {
    if (spec.doNotTrack && spec.preDNAT) ctx.addIssue({ code: 'custom', path: ['preDNAT'], message: 'preDNAT and doNotTrack cannot both be true' });
    if ((spec.doNotTrack || spec.preDNAT) && !spec.applyOnForward) {
      ctx.addIssue({ code: 'custom', path: ['applyOnForward'], message: 'applyOnForward must be true when doNotTrack or preDNAT is true' });
    }
    if (spec.preDNAT && spec.egress?.length) ctx.addIssue({ code: 'custom', path: ['egress'], message: 'preDNAT policy cannot have egress rules' });
    return finishPolicy(spec, ctx);
  });

export type GlobalNetworkPolicySpec = z.output<typeof globalNetworkPolicySpecSchema>;

export const profileSpecSchema = z
  .object({
    ingress: z.array(ruleSchema).optional(),
    egress: z.array(ruleSchema).optional(),
    labelsToApply: labelsSchema.optional(),
  })
  .strict();

export type ProfileSpec = z.output<typeof profileSpecSchema>;
