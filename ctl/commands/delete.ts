// delete -f FILE|-  or  delete KIND NAME [--revision N]: all named resources must exist; all or none go.
import type { Command } from 'commander';
import type { Resource } from '../../datastore/model/resource.js';
import { validateResource } from '../../datastore/model/index.js';
import type { CtlContext } from '../context.js';
import { UsageError, inFile } from '../errors.js';
import { readDocuments } from '../input.js';
import { resultLine } from '../summary.js';

/** v1 documents name their resource only after conversion; invalid specs still name what to delete. */
export function deletionTarget(doc: unknown): unknown {
  const v = validateResource(doc);
  return v.ok ? v.resource : doc;
}

export function registerDelete(program: Command, ctx: CtlContext): void {
  program
    .command('delete')
    .description('delete resources named in a file, or one resource by kind and name')
    .argument('[kind]', 'resource kind, e.g. ippool, bgppeer, node')
    .argument('[name]', 'resource name')
    .option('-f, --filename <file>', "YAML or JSON file naming the resources, '-' for stdin")
    .option('-n, --namespace <ns>', 'namespace of a namespaced resource')
    .option('--revision <rev>', 'delete only if the resource is still at this resourceVersion')
    .action(async (kind: string | undefined, name: string | undefined, opts: { filename?: string; namespace?: string; revision?: string }) => {
      let deleted: Resource[];
      if (opts.filename !== undefined) {
        if (kind !== undefined) throw new UsageError('delete: give either -f FILE or KIND NAME, not both');
        const { name: file, docs } = readDocuments(opts.filename);
        deleted = await inFile(file, async () => (await ctx.client()).deleteAll(docs.map(deletionTarget)));
      } else {
        if (kind === undefined || name === undefined) throw new UsageError('delete: need -f FILE or KIND NAME (e.g. tortiectl delete ippool my-pool)');
        deleted = [await (await ctx.client()).delete(kind, name, { namespace: opts.namespace, resourceVersion: opts.revision })];
      }
      ctx.out.write(resultLine('deleted', deleted.map((r) => r.kind)) + '\n');
    });
}
