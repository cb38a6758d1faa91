// The policy driver's shell around policy-plan.ts: reads what the kernel holds once (and again
// after any failure), then per apply runs at most one `ipset restore` (create / swap), one
// `iptables-restore --noflush` (ip6tables-restore for v6) and one `ipset restore` (destroy
// sets no rule references any more). Member edits of existing sets go with the first restore
// when there is one, else alongside the iptables transaction: a new pod waits for the longer of
// the two, not their sum. Everything not ours is left exactly as it is.
import type { PolicyDataplaneState } from '../policy/types.js';
import { tool } from './exec.js';
import { isOurHook, normMembers, parseFilterSave, parseIpsetSave, planFilter, planSets, stamped, stampedChain, validateState, type FilterPlan, type ObservedFilter, type ObservedSet, type SetPlan } from './policy-plan.js';

export interface PolicyApplyReport {
  chainsWritten: string[];
  chainsDeleted: string[];
  hooksFixed: string[];
  setsCreated: string[];
  setsSwapped: string[];
  /** Sets with members added or deleted in place. */
  setsEdited: string[];
  setsDestroyed: string[];
  /** Number of restore commands run (0 when the kernel already matched). */
  transactions: number;
}

export type Runner = (cmd: string, args: string[], input?: string) => Promise<string>;

export interface PolicyDriverOptions {
  family: 4 | 6;
  /** Run every tool inside this network namespace (tests, the lab); default: our own. */
  netns?: string;
  /** Replaces the process runner (unit tests). */
  run?: Runner;
}

export class PolicyDriver {
  readonly family: 4 | 6;
  private readonly run: Runner;
  private filter?: ObservedFilter;
  private sets?: Map<string, ObservedSet>;
  /** The last state that passed validation. */
  private valid?: PolicyDataplaneState;

  constructor(opts: PolicyDriverOptions) {
    this.family = opts.family;
    const base = opts.run ?? tool;
    this.run = opts.netns ? (cmd, args, input) => base('ip', ['netns', 'exec', opts.netns ?? '', cmd, ...args], input) : base;
  }

  private get ipt(): { save: string; restore: string } {
    return this.family === 4 ? { save: 'iptables-save', restore: 'iptables-restore' } : { save: 'ip6tables-save', restore: 'ip6tables-restore' };
  }

  /** Reads our chains, the built-ins' rules and our sets from the kernel (start and after errors). */
  async observe(): Promise<void> {
    this.filter = parseFilterSave(await this.run(this.ipt.save, ['-t', 'filter']));
    this.sets = parseIpsetSave(await this.run('ipset', ['save']), this.family);
  }

  /** Forgets the cached view: the next apply re-reads the kernel (someone may have edited it). */
  invalidate(): void {
    this.filter = undefined;
    this.sets = undefined;
  }

  async apply(state: PolicyDataplaneState): Promise<PolicyApplyReport> {
    if (state.family !== this.family) throw new Error(`policy driver for IPv${this.family} given an IPv${state.family} state`);
    const errs = validateState(state, this.valid);
    if (errs.length) throw new Error(`policy state rejected: ${errs.join('; ')}`);
    // A copy: a caller may edit its maps and apply them again.
    this.valid = { ...state, chains: new Map(state.chains), ipsets: new Map(state.ipsets) };
    try {
      return await this.applyOnce(state);
    } catch {
      // The cached view may be stale (another tool, a crash mid-way): re-read and try once more.
      this.invalidate();
      return this.applyOnce(state);
    }
  }

  private async applyOnce(state: PolicyDataplaneState): Promise<PolicyApplyReport> {
    if (!this.filter || !this.sets) await this.observe();
    const filter = this.filter as ObservedFilter;
    const sets = this.sets as Map<string, ObservedSet>;
    const sp = planSets(state.ipsets, sets, this.family);
    const fp = planFilter(state.chains, state.hooks, filter);
    let transactions = 0;
    const run = async (cmd: string, args: string[], input: string): Promise<void> => {
      transactions++;
      await this.run(cmd, args, input);
    };
    const rules = async (): Promise<void> => {
      if (sp.before) await run('ipset', ['restore'], sp.before + sp.edits);
      if (fp.script) await run(this.ipt.restore, ['--noflush', '-w', '5'], fp.script);
    };
    const edits = sp.edits && !sp.before ? run('ipset', ['restore'], sp.edits) : undefined;
    // Both settle before a failure is reported, so a retry never overlaps a restore still running.
    const failed = (await Promise.allSettled([rules(), edits])).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (sp.after) await run('ipset', ['restore'], sp.after);
    this.remember(state, fp, sp);
    return { chainsWritten: fp.written, chainsDeleted: fp.deleted, hooksFixed: fp.hooksFixed, setsCreated: sp.created, setsSwapped: sp.swapped, setsEdited: sp.edited, setsDestroyed: sp.destroyed, transactions };
  }

  /** After a successful apply the kernel holds exactly the plan's result: record it without a re-read. */
  private remember(state: PolicyDataplaneState, fp: FilterPlan, sp: SetPlan): void {
    const old = this.filter as ObservedFilter;
    // Every wanted chain now matches the kernel: written, or found equal by its hashes.
    old.applied = new Map(state.chains);
    for (const name of fp.deleted) old.chains.delete(name);
    for (const name of fp.written) {
      const chain = state.chains.get(name);
      if (chain) old.chains.set(name, stampedChain(chain).map((l) => ({ body: l.line, hash: l.hash })));
    }
    for (const b of fp.hooksFixed) {
      // A fixed built-in holds our hooks first, then others' rules as they were.
      const ours = state.hooks.filter((h) => h.builtin === b).map((h, i) => stamped(b, i, h.rule)).map((l) => ({ body: l.line, hash: l.hash }));
      old.builtins.set(b, [...ours, ...(old.builtins.get(b) ?? []).filter((r) => !isOurHook(r))]);
    }
    const sets = this.sets as Map<string, ObservedSet>;
    for (const n of [...sets.keys()]) if (!state.ipsets.has(n)) sets.delete(n); // destroyed, and temp leftovers
    for (const n of [...sp.created, ...sp.swapped, ...sp.edited]) {
      const s = state.ipsets.get(n);
      if (s) sets.set(n, { type: s.type, family: s.family, members: new Set(normMembers(s)) });
    }
  }
}
