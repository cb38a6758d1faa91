// IPAM kinds as v3 resources, for display and export. The allocator keeps its own JSON under
// /calico/ipam/v2/; these mirror Calico's v3 shapes so `get` output looks familiar.
import { z } from 'zod';
import { canonicalCidrSchema } from './fields.js';

export const ipamBlockSpecSchema = z
  .object({
    cidr: canonicalCidrSchema,
    affinity: z.string().nullable().optional(),
    affinityClaimTime: z.string().optional(),
    strictAffinity: z.boolean().default(false),
    allocations: z.array(z.number().int().min(0).nullable()),
    unallocated: z.array(z.number().int().min(0)),
    attributes: z
      .array(
        z
          .object({
            handle_id: z.string().nullable().optional(),
            secondary: z.record(z.string()).nullable().optional(),
          })
          .strict(),
      )
      .default([]),
    deleted: z.boolean().default(false),
    sequenceNumber: z.number().int().min(0).optional(),
    sequenceNumberForAllocation: z.record(z.number().int().min(0)).optional(),
  })
  .strict();

export type IPAMBlockSpec = z.output<typeof ipamBlockSpecSchema>;

export const blockAffinitySpecSchema = z
  .object({
    state: z.enum(['confirmed', 'pending', 'pendingDeletion']),
    node: z.string().min(1),
    cidr: canonicalCidrSchema,
    type: z.string().default('host'),
    // Calico stores this as the string "true"/"false".
    deleted: z.enum(['true', 'false']).default('false'),
  })
  .strict();

export type BlockAffinitySpec = z.output<typeof blockAffinitySpecSchema>;

export const ipamHandleSpecSchema = z
  .object({
    handleID: z.string().min(1),
    block: z.record(z.number().int().min(0)),
    deleted: z.boolean().default(false),
  })
  .strict();

export type IPAMHandleSpec = z.output<typeof ipamHandleSpecSchema>;

export const ipamConfigSpecSchema = z
  .object({
    strictAffinity: z.boolean().default(false),
    autoAllocateBlocks: z.boolean().default(true),
    maxBlocksPerHost: z.number().int().min(0).default(0),
  })
  .strict();

export type IPAMConfigSpec = z.output<typeof ipamConfigSpecSchema>;
