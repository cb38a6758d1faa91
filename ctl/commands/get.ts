// get KIND [NAME...] [-o ps|wide|yaml|json] [-n NS | -A]
import type { Command } from 'commander';
import { DatastoreError } from '../../datastore/store.js';
import type { ResourceClient } from '../../datastore/client.js';
import type { Resource } from '../../datastore/model/resource.js';
import type { CtlContext } from '../context.js';
import { EXIT_FAILED, ReportedFailure, UsageError } from '../errors.js';
import { formatInvalid, invalidObject, type InvalidObject } from '../../datastore/invalid.js';
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
      // Stored values that are not valid objects of the kind: shown apart, skipped like every component does.
      let invalid: InvalidObject[] = [];
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
        for (const n of names) {
          const r = await client.get(info.kind, n, namespace);
          const key = { kind: info.kind, name: n, ...(info.namespaced ? { namespace: r.metadata.namespace } : {}) };
          const bad = invalidObject(client.store, { key, value: r, revision: r.metadata.resourceVersion ?? '' });
          if (bad) invalid.push(bad);
          else items.push(r);
        }
      } else {
        const l = await client.list(info.kind, { namespace });
        items = l.items;
        revision = l.revision;
        invalid = l.invalid;
      }
      const single = names.length === 1;
      if (names.length && !items.length) {
        // Only invalid objects were asked for: nothing to print but the errors below.
      } else if (format === 'yaml') ctx.out.write(toYaml(info.kind, items, { single, revision }));
      else if (format === 'json') ctx.out.write(toJson(info.kind, items, { single, revision }));
      else {
        const defaultASNumber = info.kind === 'Node' && format === 'wide' ? await clusterAS(client) : undefined;
        ctx.out.write(toTable(info.kind, info.namespaced, items, format === 'wide', { allNamespaces: opts.allNamespaces, defaultASNumber }));
        if (invalid.length && !names.length) ctx.out.write(`\nINVALID (skipped by every component):\n${invalid.map((b) => `${formatInvalid(b)}\n`).join('')}`);
      }
      // Asked for by name: an error. Listed in yaml or json: a warning on stderr, so the output stays parseable.
      if (names.length) for (const b of invalid) ctx.err.write(`error: ${formatInvalid(b)}\n`);
      else if (format === 'yaml' || format === 'json') for (const b of invalid) ctx.err.write(`warning: ${formatInvalid(b)}\n`);
      if (names.length && invalid.length) throw new ReportedFailure(EXIT_FAILED);
    });
}
