// The policy driver's shell around policy-plan.ts: reads what the kernel holds once (and again
// after any failure), then per apply runs, in order, at most one ipset restore (creates, swaps and
// member edits), one iptables-restore --noflush (ip6tables-restore for v6) and one ipset restore
// (destroying sets no rule references any more). Everything not ours is left exactly as it is.
// What every pod start runs, member edits and the iptables transaction, goes to long-lived
// processes (tool-session.ts) that acknowledge each request; a round that destroys sets runs
// iptables-restore once instead, because only a process's exit waits until the kernel has let go
// of the deleted rules' references to those sets.
import type { PolicyDataplaneState } from '../policy/types.js';
import { tool } from './exec.js';
import { ipsetProtocol, restoreProtocol, ToolSession } from './tool-session.js';
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
  /** Replaces the process runner (unit tests): every restore then runs through it. */
  run?: Runner;
}

const RESTORE_ARGS = ['--noflush', '-w', '5'];

export class PolicyDriver {
  readonly family: 4 | 6;
  private readonly run: Runner;
  /** The long-lived iptables-restore and ipset; none with an injected runner. */
  private readonly sessions?: { restore: ToolSession; ipset: ToolSession };
  private filter?: ObservedFilter;
  private sets?: Map<string, ObservedSet>;
  /** The last state that passed validation. */
  private valid?: PolicyDataplaneState;

  constructor(opts: PolicyDriverOptions) {
    this.family = opts.family;
    const base = opts.run ?? tool;
    this.run = opts.netns ? (cmd, args, input) => base('ip', ['netns', 'exec', opts.netns ?? '', cmd, ...args], input) : base;
    if (!opts.run) {
      const netns = opts.netns ? { netns: opts.netns } : {};
      this.sessions = { restore: new ToolSession({ protocol: restoreProtocol(this.ipt.restore, RESTORE_ARGS), ...netns }), ipset: new ToolSession({ protocol: ipsetProtocol(), ...netns }) };
    }
  }

  /** Ends the long-lived processes (they also end with this process). */
  close(): void {
    this.sessions?.restore.close();
    this.sessions?.ipset.close();
  }

  /** `input` through the long-lived process when it can be used, else one run of the tool. */
  private async feed(session: ToolSession | undefined, cmd: string, args: string[], input: string): Promise<void> {
    if (session?.supported) {
      try {
        return await session.run(input);
      } catch (e) {
        if (session.supported) throw e;
        // This tool does not answer as expected here: one run per request from now on.
      }
    }
    await this.run(cmd, args, input);
  }

  private get ipt(): { save: string; restore: string } {
    return this.family === 4 ? { save: 'iptables-save', restore: 'iptables-restore' } : { save: 'ip6tables-save', restore: 'ip6tables-restore' };
  }

  /** Reads our chains, the built-ins' rules and our sets from the kernel (start and after errors). */
  async observe(): Promise<void> {
    this.sessions?.restore.warm();
    this.sessions?.ipset.warm();
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
    const run = async (cmd: string, args: string[], input: string, session?: ToolSession): Promise<void> => {
      transactions++;
      await this.feed(session, cmd, args, input);
    };
    // Creates and swaps run once: an error stops the restore there, as the plan expects.
    if (sp.before) await run('ipset', ['restore'], sp.before + sp.edits);
    else if (sp.edits) await run('ipset', ['restore'], sp.edits, this.sessions?.ipset);
    if (fp.script) await run(this.ipt.restore, RESTORE_ARGS, fp.script, sp.after ? undefined : this.sessions?.restore);
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
