// create | apply | replace -f FILE|-: every document validated (schema and cross-resource rules)
// before any is written; one transaction writes them all.
import type { Command } from 'commander';
import type { CtlContext } from '../context.js';
import { inFile } from '../errors.js';
import { readDocuments } from '../input.js';
import { resultLine } from '../summary.js';

type Action = 'create' | 'apply' | 'replace';

const HELP: Record<Action, string> = {
  create: 'create resources from a file (fails if any exists)',
  apply: 'create or update resources from a file',
  replace: 'replace existing resources from a file',
};

export function registerApplyCommands(program: Command, ctx: CtlContext): void {
  for (const action of ['create', 'apply', 'replace'] as const) {
    program
      .command(action)
      .description(HELP[action])
      .requiredOption('-f, --filename <file>', "YAML or JSON file with one or more resources, '-' for stdin")
      .action(async (opts: { filename: string }) => {
        const { name, docs } = readDocuments(opts.filename);
        const client = ctx.client();
        const res = await inFile(name, () =>
          action === 'create' ? client.createAll(docs) : action === 'apply' ? client.applyAll(docs) : client.replaceAll(docs),
        );
        ctx.out.write(resultLine(action === 'create' ? 'created' : action === 'apply' ? 'applied' : 'replaced', res.map((r) => r.resource.kind)) + '\n');
      });
  }
}
