// The workload dispatch chains: from an interface to its endpoint chain. Calico's shallow tree:
// the root chain splits the interfaces by the character after their common prefix; a character
// shared by several interfaces gets a child chain "<root>-<char>" reached with `-i <prefix>+ -g`,
// a lone interface a direct rule. Adding a pod then rewrites one small child chain (and the root
// only when a character first becomes shared), not a rule per endpoint. Where Calico stops at one
// level, a child holding more than DISPATCH_LEAF interfaces is split again the same way
// ("<root>-<chars>"): sequentially named interfaces would otherwise share one long child.
import { endpointChainName, FROM_WL_DISPATCH, lengthLimitedName, TO_WL_DISPATCH, type Direction } from './names.js';
import type { ChainSpec } from './types.js';

/** Interfaces a child chain may hold before it is split again. */
export const DISPATCH_LEAF = 32;

function commonPrefix(sorted: readonly string[]): string {
  const first = sorted[0] ?? '';
  const last = sorted[sorted.length - 1] ?? '';
  let i = 0;
  while (i < first.length && first[i] === last[i]) i++;
  return first.slice(0, i);
}

/** Dispatch chains for one direction, root first; unknown cali interfaces are dropped (Calico). */
export function renderDispatch(dir: Direction, ifaces: readonly string[]): ChainSpec[] {
  const flag = dir === 'egress' ? '-i' : '-o';
  const root = dir === 'egress' ? FROM_WL_DISPATCH : TO_WL_DISPATCH;
  const names = [...new Set(ifaces)].sort();
  const chains: ChainSpec[] = [];
  const direct = (iface: string): string => `${flag} ${iface} -g ${endpointChainName(iface, dir)}`;

  /** Renders the chain `name` for `group` (sorted); `skip` = root's common prefix length. */
  const build = (name: string, group: readonly string[], skip: number, split: boolean): void => {
    const chain: ChainSpec = { name, rules: [] };
    chains.push(chain);
    if (!split) {
      chain.rules.push(...group.map(direct), '-j DROP');
      return;
    }
    const common = commonPrefix(group);
    const bins = new Map<string, string[]>();
    for (const iface of group) {
      const key = iface.slice(0, common.length + 1);
      const bin = bins.get(key);
      if (bin) bin.push(iface);
      else bins.set(key, [iface]);
    }
    for (const [prefix, bin] of bins) {
      if (bin.length === 1) {
        chain.rules.push(direct(bin[0] as string));
        continue;
      }
      const child = lengthLimitedName(`${root}-`, prefix.slice(skip));
      chain.rules.push(`${flag} ${prefix}+ -g ${child}`);
      build(child, bin, skip, bin.length > DISPATCH_LEAF);
    }
    chain.rules.push('-j DROP');
  };
  build(root, names, commonPrefix(names).length, true);
  return chains;
}
