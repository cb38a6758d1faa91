// natOutgoing: Calico's ipsets (cali40all-ipam-pools, cali40masq-ipam-pools) and the
// cali-nat-outgoing chain, written with `ipset restore` and `iptables-restore --noflush` so
// rules that are not ours stay untouched.
import { tool } from './exec.js';

export const ALL_POOLS_SET = 'cali40all-ipam-pools';
export const MASQ_POOLS_SET = 'cali40masq-ipam-pools';
export const NAT_CHAIN = 'cali-nat-outgoing';
export const POSTROUTING_CHAIN = 'cali-POSTROUTING';

/** The ipset restore script: build in a temp set, swap, so the set is never seen half-filled. */
export function ipsetScript(name: string, cidrs: readonly string[]): string {
  const tmp = `${name.slice(0, 20)}-tmp`;
  const lines = [`create ${name} hash:net family inet -exist`, `create ${tmp} hash:net family inet -exist`, `flush ${tmp}`];
  for (const c of cidrs) if (!c.includes(':')) lines.push(`add ${tmp} ${c}`);
  lines.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Whether `ipset save NAME` output already holds exactly these IPv4 CIDRs. Rewriting an unchanged
 * set still replaces it in the kernel (a new set swapped in): skipped, so an agent that re-applies
 * while its datastore is away changes nothing on the host.
 */
export function ipsetHolds(saved: string, name: string, cidrs: readonly string[]): boolean {
  const lines = saved.split('\n');
  if (!lines.some((l) => l.startsWith(`create ${name} `))) return false;
  const have = new Set(lines.filter((l) => l.startsWith(`add ${name} `)).map((l) => l.split(' ')[2]));
  const want = new Set(cidrs.filter((c) => !c.includes(':')));
  return have.size === want.size && [...want].every((c) => have.has(c));
}

/** The nat-table fragment; declaring a chain with ":" under --noflush empties just that chain. */
export function natScript(): string {
  return [
    '*nat',
    `:${NAT_CHAIN} - [0:0]`,
    `:${POSTROUTING_CHAIN} - [0:0]`,
    `-A ${NAT_CHAIN} -m comment --comment "tortie:nat-outgoing" -m set --match-set ${MASQ_POOLS_SET} src -m set ! --match-set ${ALL_POOLS_SET} dst -j MASQUERADE`,
    `-A ${POSTROUTING_CHAIN} -m comment --comment "tortie:nat-outgoing" -j ${NAT_CHAIN}`,
    'COMMIT',
    '',
  ].join('\n');
}

export async function applyNat(allPools: readonly string[], masqPools: readonly string[]): Promise<void> {
  const saved = async (name: string): Promise<string> => tool('ipset', ['save', name]).catch(() => '');
  let script = '';
  for (const [name, cidrs] of [[ALL_POOLS_SET, allPools], [MASQ_POOLS_SET, masqPools]] as const) {
    if (!ipsetHolds(await saved(name), name, cidrs)) script += ipsetScript(name, cidrs);
  }
  if (script) await tool('ipset', ['restore'], script);
  await tool('iptables-restore', ['--noflush', '-w', '5'], natScript());
  // The one jump from the built-in chain, inserted once and found again by its comment.
  const rule = ['POSTROUTING', '-m', 'comment', '--comment', 'tortie:postrouting', '-j', POSTROUTING_CHAIN];
  try {
    await tool('iptables', ['-t', 'nat', '-w', '5', '-C', ...rule]);
  } catch {
    await tool('iptables', ['-t', 'nat', '-w', '5', '-I', ...rule]);
  }
}
