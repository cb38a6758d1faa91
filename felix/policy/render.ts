// Compiled rules and endpoint decisions → iptables-restore rule bodies (no "-A <chain>", no
// comment: the driver stamps every rule with "-m comment --comment cali:<hash>"). Matches are
// written in the order and spelling iptables-save prints them, so what we render and what the
// kernel reports read the same. Verdicts use Calico's mark bits: a policy that allows sets
// ACCEPT_MARK and returns; Pass sets PASS_MARK and returns; the endpoint chain returns as soon as
// a mark says allowed; cali-FORWARD accepts what the last endpoint chain allowed.
import { iptablesProtocol, type CompiledRule, type Family, type IcmpMatch, type PortRange, type SideMatch } from './compile.js';
import { endpointChainName, FORWARD_CHAIN, FROM_WL_DISPATCH, TO_WL_DISPATCH, type Direction } from './names.js';
import type { ChainSpec, HookSpec } from './types.js';

export const ACCEPT_MARK = '0x10000';
export const PASS_MARK = '0x20000';
/** Both bits: cleared on entry to cali-FORWARD and to every endpoint chain. */
export const MARK_MASK = '0x30000';
export const LOG_PREFIX = 'calico-packet: ';

export const MATCH_ACCEPTED = `-m mark --mark ${ACCEPT_MARK}/${ACCEPT_MARK}`;
export const MATCH_NOT_PASSED = `-m mark --mark 0x0/${PASS_MARK}`;
export const CLEAR_MARKS = `-j MARK --set-xmark 0x0/${MARK_MASK}`;

function portList(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.first === r.last ? String(r.first) : `${r.first}:${r.last}`)).join(',');
}

function icmpText(family: Family, m: IcmpMatch, negate: boolean): string {
  const t = m.code === undefined ? String(m.type) : `${m.type}/${m.code}`;
  return family === 4 ? `-m icmp ${negate ? '! ' : ''}--icmp-type ${t}` : `-m icmp6 ${negate ? '! ' : ''}--icmpv6-type ${t}`;
}

/** The match part of one compiled rule. */
export function renderMatch(r: CompiledRule, family: Family): string {
  const parts: string[] = [];
  // iptables-save order: addresses, protocol, then -m matches in the order given.
  if (r.src.net) parts.push(`-s ${r.src.net}`);
  if (r.src.notNet) parts.push(`! -s ${r.src.notNet}`);
  if (r.dst.net) parts.push(`-d ${r.dst.net}`);
  if (r.dst.notNet) parts.push(`! -d ${r.dst.notNet}`);
  if (r.protocol !== undefined) parts.push(`-p ${iptablesProtocol(r.protocol)}`);
  else if (r.notProtocol !== undefined) parts.push(`! -p ${iptablesProtocol(r.notProtocol)}`);
  for (const [side, dir] of [
    [r.src, 'src'],
    [r.dst, 'dst'],
  ] as const) {
    parts.push(...sideSets(side, dir));
  }
  for (const [side, flag] of [
    [r.src, 'sports'],
    [r.dst, 'dports'],
  ] as const) {
    if (side.ports) parts.push(`-m multiport --${flag} ${portList(side.ports)}`);
    for (const chunk of side.notPorts) parts.push(`-m multiport ! --${flag} ${portList(chunk)}`);
  }
  if (r.icmp) parts.push(icmpText(family, r.icmp, false));
  if (r.notICMP) parts.push(icmpText(family, r.notICMP, true));
  return parts.join(' ');
}

function sideSets(side: SideMatch, dir: 'src' | 'dst'): string[] {
  const out: string[] = [];
  if (side.notNetsSet) out.push(`-m set ! --match-set ${side.notNetsSet} ${dir}`);
  if (side.set) out.push(`-m set --match-set ${side.set} ${dir}`);
  if (side.notSet) out.push(`-m set ! --match-set ${side.notSet} ${dir}`);
  if (side.namedPortSet) out.push(`-m set --match-set ${side.namedPortSet} ${dir},${dir}`);
  for (const s of side.notNamedPortSets) out.push(`-m set ! --match-set ${s} ${dir},${dir}`);
  return out;
}

const withMatch = (m: string, target: string): string => (m ? `${m} ${target}` : target);

/** A policy's or profile's chain for one direction. */
export function renderRuleChain(name: string, rules: readonly CompiledRule[], family: Family): ChainSpec {
  const out: string[] = [];
  for (const r of rules) {
    const m = renderMatch(r, family);
    switch (r.action) {
      case 'Allow':
        out.push(withMatch(m, `-j MARK --set-xmark ${ACCEPT_MARK}/${ACCEPT_MARK}`), `${MATCH_ACCEPTED} -j RETURN`);
        break;
      case 'Pass':
        out.push(withMatch(m, `-j MARK --set-xmark ${PASS_MARK}/${PASS_MARK}`), `-m mark --mark ${PASS_MARK}/${PASS_MARK} -j RETURN`);
        break;
      case 'Deny':
        out.push(withMatch(m, '-j DROP'));
        break;
      case 'Log':
        out.push(withMatch(m, `-j LOG --log-prefix "${LOG_PREFIX}" --log-level 5`));
        break;
    }
  }
  return { name, rules: out };
}

/**
 * An endpoint's chain for one direction: clear the marks; each applicable policy in order (skipped
 * once one passed), returning as soon as one allowed; if any policy applied and none passed, drop;
 * then the profiles in order, returning when one allowed; drop.
 */
export function renderEndpointChain(iface: string, dir: Direction, policyChains: readonly string[], profileChains: readonly string[]): ChainSpec {
  const rules = [CLEAR_MARKS];
  for (const c of policyChains) rules.push(`${MATCH_NOT_PASSED} -j ${c}`, `${MATCH_ACCEPTED} -j RETURN`);
  if (policyChains.length) rules.push(`${MATCH_NOT_PASSED} -j DROP`);
  for (const c of profileChains) rules.push(`-j ${c}`, `${MATCH_ACCEPTED} -j RETURN`);
  rules.push('-j DROP');
  return { name: endpointChainName(iface, dir), rules };
}

/** cali-FORWARD: established/related accepted first, invalid dropped, then the workload
 *  dispatch both ways, then accept what the endpoint chains allowed. Other traffic returns.
 *  With host endpoints on this host, their forward chains (applyOnForward policy) come first
 *  for the incoming interface and last for the outgoing one, as in Calico. */
export function renderForward(hostEndpoints = false): ChainSpec {
  return {
    name: FORWARD_CHAIN,
    rules: [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      CLEAR_MARKS,
      ...(hostEndpoints ? ['-j cali-from-hep-forward'] : []),
      `-i cali+ -j ${FROM_WL_DISPATCH}`,
      `-o cali+ -j ${TO_WL_DISPATCH}`,
      ...(hostEndpoints ? ['-j cali-to-hep-forward'] : []),
      `${MATCH_ACCEPTED} -j ACCEPT`,
    ],
  };
}

export const HOOKS: readonly HookSpec[] = [{ builtin: 'FORWARD', rule: `-j ${FORWARD_CHAIN}` }];
