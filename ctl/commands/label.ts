// label KIND NAME k=v ... | k- ... [--overwrite]: edits metadata.labels with compare-and-swap.
import type { Command } from 'commander';
import type { CtlContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';

export interface LabelChanges {
  set: Record<string, string>;
  remove: string[];
}

export function parseLabelArgs(args: readonly string[]): LabelChanges {
  if (args.length === 0) throw new UsageError('label: give at least one key=value or key-');
  const out: LabelChanges = { set: {}, remove: [] };
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) out.set[a.slice(0, eq)] = a.slice(eq + 1);
    else if (eq < 0 && a.endsWith('-') && a.length > 1) out.remove.push(a.slice(0, -1));
    else throw new UsageError(`label: '${a}' is neither key=value nor key-`);
  }
  for (const k of out.remove) if (k in out.set) throw new UsageError(`label: '${k}' is both set and removed`);
  return out;
}

/** New label map; setting a key to a different value needs overwrite, removing an absent key is an error. */
export function applyLabelChanges(labels: Record<string, string> | undefined, ch: LabelChanges, overwrite: boolean): Record<string, string> {
  const out = { ...(labels ?? {}) };
  for (const [k, v] of Object.entries(ch.set)) {
    if (k in out && out[k] !== v && !overwrite) throw new CliError(`label '${k}' already has value '${out[k]}'; use --overwrite to change it`);
    out[k] = v;
  }
  for (const k of ch.remove) {
    if (!(k in out)) throw new CliError(`label '${k}' not found`);
    delete out[k];
  }
  return out;
}

export function registerLabel(program: Command, ctx: CtlContext): void {
  program
    .command('label')
    .description('add, change (--overwrite) or remove (key-) labels of a resource')
    .argument('<kind>', 'resource kind')
    .argument('<name>', 'resource name')
    .argument('<labels...>', 'key=value to set, key- to remove')
    .option('--overwrite', 'allow changing the value of an existing label')
    .option('-n, --namespace <ns>', 'namespace of a namespaced resource')
    .action(async (kind: string, name: string, args: string[], opts: { overwrite?: boolean; namespace?: string }) => {
      const changes = parseLabelArgs(args);
      const client = await ctx.client();
      const current = await client.get(kind, name, opts.namespace);
      const labels = applyLabelChanges(current.metadata.labels, changes, opts.overwrite ?? false);
      // resourceVersion from the read: a concurrent edit makes this fail instead of being lost.
      const r = await client.update({ ...current, metadata: { ...current.metadata, labels } });
      const info = client.kind(r.kind);
      for (const k of Object.keys(changes.set)) ctx.out.write(`Successfully set label ${k} on ${info.plural} ${name}\n`);
      for (const k of changes.remove) ctx.out.write(`Successfully removed label ${k} from ${info.plural} ${name}\n`);
    });
}
