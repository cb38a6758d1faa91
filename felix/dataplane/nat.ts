// natOutgoing: Calico's ipsets (cali40all-ipam-pools, cali40masq-ipam-pools; cali60… for IPv6) and
// the cali-nat-outgoing chain, written with `ipset restore` and `iptables-restore --noflush`
// (ip6tables-restore for IPv6) so rules that are not ours stay untouched.
import { tool } from './exec.js';

export type Family = 4 | 6;
/** Calico's set names: "cali40" + name for IPv4, "cali60" + name for IPv6. */
export const allPoolsSet = (f: Family = 4): string => `cali${f}0all-ipam-pools`;
export const masqPoolsSet = (f: Family = 4): string => `cali${f}0masq-ipam-pools`;
export const ALL_POOLS_SET = allPoolsSet(4);
export const MASQ_POOLS_SET = masqPoolsSet(4);
const ofFamily = (cidrs: readonly string[], f: Family): string[] => cidrs.filter((c) => c.includes(':') === (f === 6));
export const NAT_CHAIN = 'cali-nat-outgoing';
export const POSTROUTING_CHAIN = 'cali-POSTROUTING';

/** The ipset restore script: build in a temp set, swap, so the set is never seen half-filled. */
export function ipsetScript(name: string, cidrs: readonly string[], f: Family = 4): string {
  const tmp = `${name.slice(0, 20)}-tmp`;
  const fam = f === 4 ? 'inet' : 'inet6';
  const lines = [`create ${name} hash:net family ${fam} -exist`, `create ${tmp} hash:net family ${fam} -exist`, `flush ${tmp}`];
  for (const c of ofFamily(cidrs, f)) lines.push(`add ${tmp} ${c}`);
  lines.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Whether `ipset save NAME` output already holds exactly these IPv4 CIDRs. Rewriting an unchanged
 * set still replaces it in the kernel (a new set swapped in): skipped, so an agent that re-applies
 * while its datastore is away changes nothing on the host.
 */
export function ipsetHolds(saved: string, name: string, cidrs: readonly string[], f: Family = 4): boolean {
  const lines = saved.split('\n');
  if (!lines.some((l) => l.startsWith(`create ${name} `))) return false;
  const have = new Set(lines.filter((l) => l.startsWith(`add ${name} `)).map((l) => l.split(' ')[2]));
  const want = new Set(ofFamily(cidrs, f));
  return have.size === want.size && [...want].every((c) => have.has(c));
}

/** The nat-table fragment; declaring a chain with ":" under --noflush empties just that chain. */
export function natScript(f: Family = 4): string {
  const [all, masq] = [allPoolsSet(f), masqPoolsSet(f)];
  return [
    '*nat',
    `:${NAT_CHAIN} - [0:0]`,
    `:${POSTROUTING_CHAIN} - [0:0]`,
    `-A ${NAT_CHAIN} -m comment --comment "tortie:nat-outgoing" -m set --match-set ${masq} src -m set ! --match-set ${all} dst -j MASQUERADE`,
    `-A ${POSTROUTING_CHAIN} -m comment --comment "tortie:nat-outgoing" -j ${NAT_CHAIN}`,
    'COMMIT',
    '',
  ].join('\n');
}

/** IPv4 always (as before dual stack); IPv6 once a pool of that family exists. */
export async function applyNat(allPools: readonly string[], masqPools: readonly string[]): Promise<void> {
  await applyNatFamily(4, allPools, masqPools);
  if (ofFamily(allPools, 6).length) await applyNatFamily(6, allPools, masqPools);
}

async function applyNatFamily(f: Family, allPools: readonly string[], masqPools: readonly string[]): Promise<void> {
  const saved = async (name: string): Promise<string> => tool('ipset', ['save', name]).catch(() => '');
  let script = '';
  for (const [name, cidrs] of [[allPoolsSet(f), allPools], [masqPoolsSet(f), masqPools]] as const) {
    if (!ipsetHolds(await saved(name), name, cidrs, f)) script += ipsetScript(name, cidrs, f);
  }
  if (script) await tool('ipset', ['restore'], script);
  const iptables = f === 4 ? 'iptables' : 'ip6tables';
  await tool(`${iptables}-restore`, ['--noflush', '-w', '5'], natScript(f));
  // The one jump from the built-in chain, inserted once and found again by its comment.
  const rule = ['POSTROUTING', '-m', 'comment', '--comment', 'tortie:postrouting', '-j', POSTROUTING_CHAIN];
  try {
    await tool(iptables, ['-t', 'nat', '-w', '5', '-C', ...rule]);
  } catch {
    await tool(iptables, ['-t', 'nat', '-w', '5', '-I', ...rule]);
  }
}
