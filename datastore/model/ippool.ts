// IPPool: a range pods get addresses from, cut into per-node blocks of `blockSize`.
import { z } from 'zod';
import { canonicalCidrSchema, selectorSchema } from './fields.js';
import { cidrsOverlap, parseCIDR } from './net.js';

export const ENCAP_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
const encapMode = z.enum(ENCAP_MODES);

const BLOCK_RANGE = { 4: { min: 20, max: 32, def: 26 }, 6: { min: 116, max: 128, def: 122 } } as const;
/** Link-local ranges Calico refuses as pools. */
const LINK_LOCAL = { 4: '169.254.0.0/16', 6: 'fe80::/10' } as const;

export const ipPoolSpecSchema = z
  .object({
    cidr: canonicalCidrSchema,
    blockSize: z.number().int().optional(),
    ipipMode: encapMode.default('Never'),
    vxlanMode: encapMode.default('Never'),
    natOutgoing: z.boolean().default(false),
    disabled: z.boolean().default(false),
    disableBGPExport: z.boolean().default(false),
    nodeSelector: selectorSchema.default('all()'),
    allowedUses: z.array(z.enum(['Workload', 'Tunnel', 'LoadBalancer'])).default(['Workload', 'Tunnel']),
    assignmentMode: z.enum(['Automatic', 'Manual']).default('Automatic'),
  })
  .strict()
  // A refinement (not a transform) so these checks still run, and report, when another field
  // was only "dirty" (host bits, unknown fields): every problem shows up in one pass.
  .superRefine((spec, ctx) => {
    if (spec.ipipMode !== 'Never' && spec.vxlanMode !== 'Never') {
      ctx.addIssue({ code: 'custom', path: ['vxlanMode'], message: 'ipipMode and vxlanMode cannot both be enabled' });
    }
    if (new Set(spec.allowedUses).size !== spec.allowedUses.length) {
      ctx.addIssue({ code: 'custom', path: ['allowedUses'], message: 'allowedUses lists a value twice' });
    }
    if (spec.allowedUses.includes('LoadBalancer') && spec.allowedUses.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['allowedUses'], message: 'LoadBalancer cannot be combined with other uses' });
    }
    const c = typeof spec.cidr === 'string' ? parseCIDR(spec.cidr) : undefined;
    if (!c) return; // cidr already reported
    const r = BLOCK_RANGE[c.family];
    const blockSize = spec.blockSize ?? r.def;
    if (blockSize < r.min || blockSize > r.max) {
      ctx.addIssue({ code: 'custom', path: ['blockSize'], message: `blockSize ${blockSize} is out of range for IPv${c.family} (${r.min}–${r.max})` });
    } else if (blockSize < c.prefix) {
      ctx.addIssue({
        code: 'custom',
        path: ['blockSize'],
        message: `blockSize /${blockSize} is larger than the pool ${spec.cidr}; the pool must hold at least one block`,
      });
    }
    if (c.family === 6 && spec.ipipMode !== 'Never') {
      ctx.addIssue({ code: 'custom', path: ['ipipMode'], message: 'IPIP is not supported on an IPv6 pool' });
    }
    const ll = parseCIDR(LINK_LOCAL[c.family]);
    if (ll && cidrsOverlap(c, ll)) {
      ctx.addIssue({ code: 'custom', path: ['cidr'], message: `${spec.cidr} overlaps the reserved link-local range ${LINK_LOCAL[c.family]}` });
    }
  })
  .transform((spec) => ({ ...spec, blockSize: spec.blockSize ?? BLOCK_RANGE[parseCIDR(spec.cidr)?.family ?? 4].def }));

export type IPPoolSpec = z.output<typeof ipPoolSpecSchema>;
