// Which pools an allocation may draw from (pure). Mirrors Calico's rules: explicit pools (pod annotation
// or CNI config) win; otherwise every enabled pool with assignmentMode Automatic whose nodeSelector
// matches the node and whose allowedUses include the use.
import { compileSelector, parseSelector } from '../datastore/selector/index.js';
import { ipPoolSpecSchema } from '../datastore/model/ippool.js';
import { type Cidr, type Family, formatCidr, parseCidr } from './cidr.js';

export type IpUse = 'Workload' | 'Tunnel';

export interface Pool {
  name: string;
  cidr: Cidr;
  blockSize: number;
  disabled: boolean;
  nodeSelector: string;
  allowedUses: string[];
  /** Manual pools are used only when asked for by name or CIDR. */
  assignmentMode: 'Automatic' | 'Manual';
}

/** Parses a stored IPPool resource; returns an error string naming the field when it is unusable. */
export function poolFromResource(name: string, spec: unknown): Pool | string {
  if (typeof spec === 'string') return `IPPool ${name}: not JSON`;
  const r = ipPoolSpecSchema.safeParse(spec);
  if (!r.success) {
    const i = r.error.issues[0];
    return `IPPool ${name}: spec.${i.path.join('.')}: ${i.message}`;
  }
  return {
    name,
    cidr: parseCidr(r.data.cidr),
    blockSize: r.data.blockSize,
    disabled: r.data.disabled,
    nodeSelector: r.data.nodeSelector,
    allowedUses: r.data.allowedUses,
    assignmentMode: r.data.assignmentMode,
  };
}

export class PoolSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolSelectionError';
  }
}

function selectorMatches(selector: string, labels: Record<string, string>): boolean {
  try {
    return compileSelector(selector).matches(labels);
  } catch {
    return false; // an unparsable selector selects nothing
  }
}

/** Whether choosing among these pools depends on the node's labels (some selector is not all()). */
export function poolsNeedNodeLabels(pools: readonly Pool[]): boolean {
  return pools.some((p) => {
    try {
      return parseSelector(p.nodeSelector).op !== 'all';
    } catch {
      return false; // selects nothing, whatever the labels
    }
  });
}

/**
 * Candidate pools for one family, in the order they will be tried.
 * `requested` holds pool names or CIDRs (annotation / CNI config); an unknown or disabled name is an error
 * so a typo is never silently replaced by a default pool.
 */
export function selectPools(
  pools: Pool[],
  family: Family,
  nodeLabels: Record<string, string>,
  use: IpUse,
  requested?: string[],
): Pool[] {
  const ofFamily = pools.filter((p) => p.cidr.family === family);
  if (requested && requested.length > 0) {
    return requested.map((want) => {
      const p = ofFamily.find((q) => q.name === want || formatCidr(q.cidr) === normaliseCidr(want));
      if (!p) throw new PoolSelectionError(`requested IPv${family} pool "${want}" does not exist`);
      if (p.disabled) throw new PoolSelectionError(`requested IPv${family} pool "${want}" is disabled`);
      if (!p.allowedUses.includes(use)) throw new PoolSelectionError(`requested pool "${want}" does not allow use ${use}`);
      return p;
    });
  }
  return ofFamily
    .filter((p) => !p.disabled && p.assignmentMode === 'Automatic' && p.allowedUses.includes(use) && selectorMatches(p.nodeSelector, nodeLabels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function normaliseCidr(text: string): string {
  try {
    return formatCidr(parseCidr(text));
  } catch {
    return text;
  }
}
