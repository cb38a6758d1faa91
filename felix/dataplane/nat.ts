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
  await tool('ipset', ['restore'], ipsetScript(ALL_POOLS_SET, allPools) + ipsetScript(MASQ_POOLS_SET, masqPools));
  await tool('iptables-restore', ['--noflush', '-w', '5'], natScript());
  // The one jump from the built-in chain, inserted once and found again by its comment.
  const rule = ['POSTROUTING', '-m', 'comment', '--comment', 'tortie:postrouting', '-j', POSTROUTING_CHAIN];
  try {
    await tool('iptables', ['-t', 'nat', '-w', '5', '-C', ...rule]);
  } catch {
    await tool('iptables', ['-t', 'nat', '-w', '5', '-I', ...rule]);
  }
}
