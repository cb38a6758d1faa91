// patch KIND NAME -p JSON: an RFC 7396 merge patch, validated, compare-and-swap.
import type { Command } from 'commander';
import type { JsonValue } from '../../datastore/merge-patch.js';
import type { CtlContext } from '../context.js';
import { UsageError } from '../errors.js';
import { resultLine } from '../summary.js';

export function parsePatch(text: string): JsonValue {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`patch: -p is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('patch: -p must be a JSON object, e.g. \'{"spec":{"natOutgoing":true}}\'');
  return v as JsonValue;
}

export function registerPatch(program: Command, ctx: CtlContext): void {
  program
    .command('patch')
    .description('merge-patch one resource')
    .argument('<kind>', 'resource kind')
    .argument('<name>', 'resource name')
    .requiredOption('-p, --patch <json>', 'JSON merge patch, e.g. \'{"spec":{"natOutgoing":true}}\'')
    .option('-n, --namespace <ns>', 'namespace of a namespaced resource')
    .action(async (kind: string, name: string, opts: { patch: string; namespace?: string }) => {
      const patch = parsePatch(opts.patch);
      const r = await (await ctx.client()).patch(kind, name, patch, opts.namespace);
      ctx.out.write(resultLine('patched', [r.kind]) + '\n');
    });
}
