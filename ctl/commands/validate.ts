// validate -f FILE|-: schema and in-file cross-resource checks, without a datastore.
import type { Command } from 'commander';
import { checkPoolOverlap, validateResource } from '../../datastore/model/index.js';
import type { Resource } from '../../datastore/model/resource.js';
import { identify, type DocumentError, ValidationError } from '../../datastore/client.js';
import type { CtlContext } from '../context.js';
import { inFile } from '../errors.js';
import { readDocuments } from '../input.js';
import { resultLine } from '../summary.js';

/** Every document's errors; returns the normalized resources when all are valid. */
export function validateDocuments(docs: readonly unknown[]): Resource[] {
  const errors: DocumentError[] = [];
  const ok: { index: number; resource: Resource }[] = [];
  docs.forEach((d, i) => {
    const v = validateResource(d);
    if (v.ok) ok.push({ index: i + 1, resource: v.resource });
    else {
      const id = identify(d);
      errors.push({ index: i + 1, kind: id.kind, name: id.name, errors: v.errors });
    }
  });
  const pools = ok.filter((o) => o.resource.kind === 'IPPool');
  const overlaps = checkPoolOverlap(pools.map((p) => p.resource) as unknown as Parameters<typeof checkPoolOverlap>[0]);
  for (const o of overlaps) {
    const p = pools.find((x) => x.resource.metadata.name === o.pool);
    if (p) errors.push({ index: p.index, kind: 'IPPool', name: o.pool, errors: [{ path: 'spec.cidr', message: o.message }] });
  }
  if (errors.length) throw new ValidationError(errors.sort((a, b) => a.index - b.index));
  return ok.map((o) => o.resource);
}

export function registerValidate(program: Command, ctx: CtlContext): void {
  program
    .command('validate')
    .description('check resources in a file without writing them')
    .requiredOption('-f, --filename <file>', "YAML or JSON file, '-' for stdin")
    .action(async (opts: { filename: string }) => {
      const { name, docs } = readDocuments(opts.filename);
      const resources = await inFile(name, async () => validateDocuments(docs));
      ctx.out.write(resultLine('validated', resources.map((r) => r.kind)) + '\n');
    });
}
