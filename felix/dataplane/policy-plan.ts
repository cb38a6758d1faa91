// The pure half of the policy driver: parse what the kernel holds (iptables-save, ipset save),
// compare it with the wanted PolicyDataplaneState and produce the restore scripts that converge
// one to the other. Ours are found by name prefix (cali- chains, cali40/cali60 sets) and every
// rule we write carries a "cali:<hash>" comment, so a chain is rewritten only when its hashes
// differ — iptables-save's normalisation of rule text never causes a spurious rewrite.
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { CHAIN_PREFIX, type ChainSpec, type HookSpec, type IpsetSpec, type IpsetType, type PolicyDataplaneState } from '../policy/types.js';

export const BUILTINS = ['INPUT', 'FORWARD', 'OUTPUT'] as const;
export type Builtin = (typeof BUILTINS)[number];

/** One rule line as iptables-save printed it, with our hash when it carries one. */
export interface ObservedRule {
  /** Everything after "-A <chain> ". */
  body: string;
  hash?: string;
}

export interface ObservedFilter {
  /** Our chains (cali- prefix) with their rules, in order. */
  chains: Map<string, ObservedRule[]>;
  /** Rules of the built-in chains, in order (ours and others'). */
  builtins: Map<Builtin, ObservedRule[]>;
  /** Chains the kernel is known to hold exactly as these objects (the driver records what it
   *  applied; empty after a re-read): planning skips comparing their rules. */
  applied?: Map<string, ChainSpec>;
}

export interface ObservedSet {
  type: string;
  family: 'inet' | 'inet6';
  members: Set<string>;
}

const HASH_RE = /--comment "?cali:([A-Za-z0-9_-]{16})"?/;

/** Parses `iptables-save -t filter` (either family): our chains and the built-ins' rules. */
export function parseFilterSave(text: string): ObservedFilter {
  const out: ObservedFilter = { chains: new Map(), builtins: new Map(BUILTINS.map((b) => [b, []])) };
  let inFilter = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (name.startsWith(CHAIN_PREFIX)) out.chains.set(name, []);
    } else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const body = sp < 0 ? '' : rest.slice(sp + 1);
      const m = HASH_RE.exec(body);
      const rule: ObservedRule = m?.[1] ? { body, hash: m[1] } : { body };
      const list = out.chains.get(chain) ?? out.builtins.get(chain as Builtin);
      list?.push(rule);
    }
  }
  return out;
}

/** The rule hash we stamp on every rule: chain, position and text, so order changes show too. */
export function ruleHash(chain: string, index: number, rule: string): string {
  return createHash('sha256').update(`${chain}\0${index}\0${rule}`).digest('base64url').slice(0, 16);
}

/** Stamped lines per chain object: the renderer hands back the same object for an unchanged
 *  chain, so a steady state costs no hashing. */
const stampCache = new WeakMap<ChainSpec, { line: string; hash: string }[]>();

export function stampedChain(chain: ChainSpec): { line: string; hash: string }[] {
  let lines = stampCache.get(chain);
  if (!lines) {
    lines = chain.rules.map((r, i) => stamped(chain.name, i, r));
    stampCache.set(chain, lines);
  }
  return lines;
}

/** A rule with our hash comment in front, and the hash. */
export function stamped(chain: string, index: number, rule: string): { line: string; hash: string } {
  const hash = ruleHash(chain, index, rule);
  return { line: `-m comment --comment "cali:${hash}" ${rule}`.trimEnd(), hash };
}

/** A built-in rule is ours when it carries our hash or jumps to one of our chains. */
const JUMPS_TO_OURS = new RegExp(`(?:^| )-[jg] ${CHAIN_PREFIX}`);

export function isOurHook(r: ObservedRule): boolean {
  return r.hash !== undefined || JUMPS_TO_OURS.test(r.body);
}

export interface FilterPlan {
  /** The iptables-restore --noflush input, or '' when nothing changes. */
  script: string;
  written: string[];
  deleted: string[];
  /** Built-ins whose hooks were re-inserted. */
  hooksFixed: Builtin[];
}

/** Plans one filter-table transaction: rewrite changed chains, create new ones, delete ours no
 *  longer wanted (their references gone first), and keep the hooks at the top of the built-ins. */
export function planFilter(want: ReadonlyMap<string, ChainSpec>, hooks: readonly HookSpec[], seen: ObservedFilter): FilterPlan {
  const declare: string[] = [];
  const body: string[] = [];
  const deletes: string[] = [];
  const written: string[] = [];
  // Thousands of chains, a handful changed: compare first, sort only what is written.
  const changed = [...want].filter(([name, chain]) => {
    if (seen.applied?.get(name) === chain) return false;
    const lines = stampedChain(chain);
    const have = seen.chains.get(name);
    return !(have !== undefined && have.length === lines.length && have.every((r, i) => r.hash === lines[i]?.hash));
  });
  for (const [name, chain] of changed.sort(([a], [b]) => a.localeCompare(b))) {
    // Under --noflush, declaring a chain creates it or empties just that chain.
    declare.push(`:${name} - [0:0]`);
    for (const l of stampedChain(chain)) body.push(`-A ${name} ${l.line}`);
    written.push(name);
  }
  const deleted = [...seen.chains.keys()].filter((n) => !want.has(n)).sort();
  for (const name of deleted) {
    // Emptied first: a chain of ours we drop may jump to another we drop.
    declare.push(`:${name} - [0:0]`);
    deletes.push(`-X ${name}`);
  }
  const hookLines: string[] = [];
  const hooksFixed: Builtin[] = [];
  for (const b of BUILTINS) {
    const wanted = hooks.filter((h) => h.builtin === b).map((h, i) => stamped(b, i, h.rule));
    const have = seen.builtins.get(b) ?? [];
    const ours = have.filter(isOurHook);
    const atTop = wanted.every((w, i) => have[i]?.hash === w.hash) && ours.length === wanted.length;
    if (atTop) continue;
    hooksFixed.push(b);
    for (const r of ours) hookLines.push(`-D ${b} ${r.body}`);
    wanted.forEach((w, i) => hookLines.push(`-I ${b} ${i + 1} ${w.line}`));
  }
  if (!declare.length && !hookLines.length) return { script: '', written, deleted, hooksFixed };
  // Hook deletions precede chain deletions (a hook may point at a chain we drop); hook
  // insertions come after the chains they jump to exist.
  const dels = hookLines.filter((l) => l.startsWith('-D '));
  const ins = hookLines.filter((l) => l.startsWith('-I '));
  const script = ['*filter', ...declare, ...dels, ...body, ...ins, ...deletes, 'COMMIT', ''].join('\n');
  return { script, written, deleted, hooksFixed };
}

/** Is this set one the policy driver owns? Calico's policy sets are "cali40<letter>:…"
 *  (s: selectors, n: named ports); other cali40 sets (the NAT pools) belong to other drivers. */
export function ownsSet(name: string, family: 4 | 6): boolean {
  return (family === 4 ? /^cali40[a-z]:/ : /^cali60[a-z]:/).test(name) || isTempSet(name, family);
}

function isTempSet(name: string, family: 4 | 6): boolean {
  return (family === 4 ? /^cali4t[a-z]:/ : /^cali6t[a-z]:/).test(name);
}

/** The swap partner of a set: same length, "cali4t…" instead of "cali40…". */
export function tempSetName(name: string): string {
  return `${name.slice(0, 5)}t${name.slice(6)}`;
}

/** Parses `ipset save` output into the sets the policy driver owns for one family. */
export function parseIpsetSave(text: string, family: 4 | 6): Map<string, ObservedSet> {
  const out = new Map<string, ObservedSet>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'create' && f[1] && f[2] && ownsSet(f[1], family)) {
      const fam = f[f.indexOf('family') + 1] === 'inet6' ? 'inet6' : 'inet';
      out.set(f[1], { type: f[2], family: fam, members: new Set() });
    } else if (f[0] === 'add' && f[1] && f[2]) {
      out.get(f[1])?.members.add(normMember(f[2]));
    }
  }
  return out;
}

/** Members compared the way ipset prints them: host prefixes without "/32" / "/128", v6 compact. */
export function normMember(m: string): string {
  const [addrPart = '', ...rest] = m.split(',');
  const [addr = '', len] = addrPart.split('/');
  let a = addr;
  try {
    a = ipaddr.parse(addr).toString();
  } catch {
    /* left as written: ipset will report it */
  }
  const full = a.includes(':') ? '128' : '32';
  const net = len === undefined || len === full ? a : `${a}/${len}`;
  return [net, ...rest].join(',');
}

export interface SetPlan {
  /** `ipset restore` input run before the iptables transaction (creates, swaps). */
  before: string;
  /** Members added to / deleted from sets that exist and stay: no rule's validity depends on
   *  them, so this may run alongside the iptables transaction. */
  edits: string;
  /** Run after it: destroys sets no chain references any more. */
  after: string;
  created: string[];
  swapped: string[];
  /** Sets edited in place (a few members added or deleted). */
  edited: string[];
  destroyed: string[];
}

/** A set's members as ipset prints them, sorted; cached per spec object like the chain stamps
 *  (the calculator hands back the same object for an unchanged set). */
const normCache = new WeakMap<IpsetSpec, string[]>();

export function normMembers(s: IpsetSpec): string[] {
  let members = normCache.get(s);
  if (!members) {
    members = [...new Set(s.members.map(normMember))].sort();
    normCache.set(s, members);
  }
  return members;
}

const sameMembers = (a: ReadonlySet<string>, b: readonly string[]): boolean => a.size === b.length && b.every((m) => a.has(m));

export function planSets(want: ReadonlyMap<string, IpsetSpec>, seen: ReadonlyMap<string, ObservedSet>, family: 4 | 6): SetPlan {
  const before: string[] = [];
  const edits: string[] = [];
  const after: string[] = [];
  const created: string[] = [];
  const swapped: string[] = [];
  const edited: string[] = [];
  const create = (name: string, type: IpsetType, fam: string): string => `create ${name} ${type} family ${fam} maxelem 1048576`;
  for (const name of [...seen.keys()].filter((n) => isTempSet(n, family))) before.push(`destroy ${name}`);
  for (const [name, s] of [...want].sort(([a], [b]) => a.localeCompare(b))) {
    const members = normMembers(s);
    const have = seen.get(name);
    if (!have) {
      // Nothing references a new set yet: fill it in place.
      before.push(create(name, s.type, s.family), ...members.map((m) => `add ${name} ${m}`));
      created.push(name);
    } else if (have.type !== s.type || have.family !== s.family) {
      // A set cannot change type in place and swap needs equal types; names hash the selector and
      // type, so this only happens after manual tampering: rebuild it (rules see it briefly empty).
      before.push(`flush ${name}`, `destroy ${name}`, create(name, s.type, s.family), ...members.map((m) => `add ${name} ${m}`));
      swapped.push(name);
    } else if (!sameMembers(have.members, members)) {
      // A few members in or out (a pod came or went): edit in place, each add / del is atomic.
      // A wholesale change is built aside and swapped in, so the set is never seen half-filled.
      const wanted = new Set(members);
      const adds = members.filter((m) => !have.members.has(m));
      const dels = [...have.members].filter((m) => !wanted.has(m)).sort();
      if (adds.length + dels.length < members.length) {
        edits.push(...adds.map((m) => `add ${name} ${m}`), ...dels.map((m) => `del ${name} ${m}`));
        edited.push(name);
        continue;
      }
      const tmp = tempSetName(name);
      before.push(create(tmp, s.type, s.family), ...members.map((m) => `add ${tmp} ${m}`), `swap ${tmp} ${name}`, `destroy ${tmp}`);
      swapped.push(name);
    }
  }
  const destroyed = [...seen.keys()].filter((n) => !want.has(n) && !isTempSet(n, family)).sort();
  for (const n of destroyed) after.push(`destroy ${n}`);
  const text = (l: string[]): string => (l.length ? `${l.join('\n')}\n` : '');
  return { before: text(before), edits: text(edits), after: text(after), created, swapped, edited, destroyed };
}

/** What a chain object says on its own: its line-break problems and the chains / sets it names.
 *  Cached per object, like the stamps: an unchanged chain is not re-scanned. */
interface ChainRefs {
  errs: string[];
  jumps: string[];
  sets: string[];
}
const refCache = new WeakMap<ChainSpec, ChainRefs>();

function chainRefs(c: ChainSpec): ChainRefs {
  let refs = refCache.get(c);
  if (!refs) {
    refs = { errs: [], jumps: [], sets: [] };
    for (const [i, r] of c.rules.entries()) {
      if (/[\n\r]/.test(r)) refs.errs.push(`chain "${c.name}" rule ${i}: contains a line break`);
      for (const m of r.matchAll(/(?:^| )-[jg] (\S+)/g)) if (m[1]?.startsWith(CHAIN_PREFIX)) refs.jumps.push(m[1]);
      for (const m of r.matchAll(/--match-set (\S+)/g)) if (m[1]) refs.sets.push(m[1]);
    }
    refCache.set(c, refs);
  }
  return refs;
}

/** Checks a wanted state against the kernel's limits before anything is written. `valid`: a state
 *  that passed before; while every chain and set it named still exists, its chain objects that
 *  come back unchanged are valid still (a new pod re-checks its few chains, not thousands). */
export function validateState(state: PolicyDataplaneState, valid?: PolicyDataplaneState): string[] {
  const errs: string[] = [];
  const setPrefix = `cali${state.family}0`;
  const known =
    valid !== undefined && valid.family === state.family && [...valid.chains.keys()].every((n) => state.chains.has(n)) && [...valid.ipsets.keys()].every((n) => state.ipsets.has(n))
      ? valid.chains
      : undefined;
  for (const [name, c] of state.chains) {
    if (known?.get(name) === c) continue;
    if (!name.startsWith(CHAIN_PREFIX)) errs.push(`chain "${name}": must start with ${CHAIN_PREFIX}`);
    if (name.length > 28) errs.push(`chain "${name}": longer than 28 characters`);
    if (c.name !== name) errs.push(`chain "${name}": map key and name "${c.name}" differ`);
    // Dangling references would make the whole transaction fail (or a later destroy of a set).
    const refs = chainRefs(c);
    errs.push(...refs.errs);
    for (const t of refs.jumps) if (!state.chains.has(t)) errs.push(`chain "${c.name}": jumps to ${t}, which the state does not define`);
    for (const n of refs.sets) if (ownsSet(n, state.family) && !state.ipsets.has(n)) errs.push(`chain "${c.name}": matches ipset ${n}, which the state does not define`);
  }
  for (const [name, s] of state.ipsets) {
    if (!name.startsWith(setPrefix) || !ownsSet(name, state.family)) errs.push(`ipset "${name}": must look like ${setPrefix}<letter>:…`);
    if (name.length > 31) errs.push(`ipset "${name}": longer than 31 characters`);
    if (s.name !== name) errs.push(`ipset "${name}": map key and name "${s.name}" differ`);
    if (s.family !== (state.family === 4 ? 'inet' : 'inet6')) errs.push(`ipset "${name}": family ${s.family} in a v${state.family} state`);
  }
  for (const h of state.hooks) {
    if (!(BUILTINS as readonly string[]).includes(h.builtin)) errs.push(`hook "${h.rule}": unknown built-in chain ${String(h.builtin)}`);
  }
  return errs;
}
