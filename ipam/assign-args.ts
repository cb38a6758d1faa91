// What an automatic assignment is asked for and what it hands out (allocator.ts, group-assign.ts).
import type { Family } from './cidr.js';
import type { IpUse } from './pools.js';

export interface AssignArgs {
  handleId: string;
  hostname: string;
  num4?: number;
  num6?: number;
  /** Secondary attributes stored with the allocation (namespace, pod, node…). */
  attrs?: Record<string, string>;
  /** Pool names or CIDRs to draw from instead of the node's default pools. */
  ipv4Pools?: string[];
  ipv6Pools?: string[];
  use?: IpUse;
  /**
   * The caller expects the handle to be new (a pod's first ADD): its read is skipped and the handle
   * is created outright. If it exists after all, the call throws IpamError HandleExists before
   * writing anything, and the caller takes its idempotent path (what does the handle hold?).
   */
  newHandle?: boolean;
}

export interface AssignedIp {
  ip: string;
  family: Family;
  block: string;
  ordinal: number;
  sequenceNumber: number;
}
