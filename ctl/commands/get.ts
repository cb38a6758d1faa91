// get KIND [NAME...] [-o ps|wide|yaml|json] [-n NS | -A]
import type { Command } from 'commander';
import { DatastoreError } from '../../datastore/store.js';
import type { ResourceClient } from '../../datastore/client.js';
import type { Resource } from '../../datastore/model/resource.js';
import type { CtlContext } from '../context.js';
import { UsageError } from '../errors.js';
import { isIpamViewKind, listIpamView } from '../ipam-views.js';
import { OUTPUT_FORMATS, toJson, toTable, toYaml, type OutputFormat } from '../format.js';

const DEFAULT_AS = 64512;

export function parseOutputFormat(o: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(o)) throw new UsageError(`get: -o ${o}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  return o as OutputFormat;
}

async function clusterAS(client: ResourceClient): Promise<number | string> {
  try {
    const cfg = await client.get('BGPConfiguration', 'default');
    return ((cfg.spec as { asNumber?: number | string } | undefined)?.asNumber ?? DEFAULT_AS) as number | string;
  } catch (err) {
    if (err instanceof DatastoreError && err.code === 'NotFound') return DEFAULT_AS;
    throw err;
  }
}

export function registerGet(program: Command, ctx: CtlContext): void {
  program
    .command('get')
    .description('list resources of a kind, or show named ones')
    .argument('<kind>', 'resource kind: ippools, bgppeers, bgpconfigs, nodes, felixconfigs, policies, gnp, profiles, heps, weps, …')
    .argument('[names...]', 'resource names (all when omitted)')
    .option('-o, --output <format>', 'ps (table), wide, yaml or json', 'ps')
    .option('-n, --namespace <ns>', 'namespace for namespaced kinds (default: "default")')
    .option('-A, --all-namespaces', 'all namespaces')
    .action(async (kindArg: string, names: string[], opts: { output: string; namespace?: string; allNamespaces?: boolean }) => {
      const format = parseOutputFormat(opts.output);
      if (opts.namespace && opts.allNamespaces) throw new UsageError('get: -n and -A are exclusive');
      const client = await ctx.client();
      const info = client.kind(kindArg);
      const namespace = info.namespaced ? (opts.allNamespaces ? undefined : opts.namespace || 'default') : undefined;
      let items: Resource[];
      let revision: string | undefined;
      if (isIpamViewKind(info.kind)) {
        // IPAM's own records, normalised by IPAM's parsers (see ipam-views.ts).
        const l = await listIpamView(client.store, info.kind);
        revision = l.revision;
        items = l.items;
        if (names.length) {
          items = names.map((n) => {
            const r = l.items.find((x) => x.metadata.name === n);
            if (!r) throw new DatastoreError('NotFound', `resource does not exist: ${info.kind}(${n})`);
            return r;
          });
        }
      } else if (names.length) {
        items = [];
        for (const n of names) items.push(await client.get(info.kind, n, namespace));
      } else {
        const l = await client.list(info.kind, { namespace });
        items = l.items;
        revision = l.revision;
      }
      const single = names.length === 1;
      if (format === 'yaml') ctx.out.write(toYaml(info.kind, items, { single, revision }));
      else if (format === 'json') ctx.out.write(toJson(info.kind, items, { single, revision }));
      else {
        const defaultASNumber = info.kind === 'Node' && format === 'wide' ? await clusterAS(client) : undefined;
        ctx.out.write(toTable(info.kind, info.namespaced, items, format === 'wide', { allNamespaces: opts.allNamespaces, defaultASNumber }));
      }
    });
}
