// create | apply | replace -f FILE|-: every document validated (schema and cross-resource rules)
// before any is written; one transaction writes them all.
import type { Command } from 'commander';
import { kindByName } from '../../datastore/model/kinds.js';
import { isRecord } from '../../datastore/model/flat.js';
import type { CtlContext } from '../context.js';
import { inFile, UsageError } from '../errors.js';
import { readDocuments } from '../input.js';
import { resultLine } from '../summary.js';
import type { Resource } from '../../datastore/model/resource.js';
import { bgpFieldWarnings } from './bgp-warnings.js';

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
      .option('-n, --namespace <ns>', 'namespace for namespaced resources that name none (like calicoctl and kubectl -n)')
      .action(async (opts: { filename: string; namespace?: string }) => {
        const read = readDocuments(opts.filename);
        const name = read.name;
        const docs = opts.namespace ? read.docs.map((d, i) => withNamespace(d, opts.namespace ?? '', i)) : read.docs;
        const client = await ctx.client();
        const res = await inFile(name, () =>
          action === 'create' ? client.createAll(docs) : action === 'apply' ? client.applyAll(docs) : client.replaceAll(docs),
        );
        ctx.out.write(resultLine(action === 'create' ? 'created' : action === 'apply' ? 'applied' : 'replaced', res.map((r) => r.resource.kind)) + '\n');
        for (const w of enforcementWarnings(res.map((r) => r.resource))) ctx.err.write(`warning: ${w}\n`);
      });
  }
}

/** Puts -n's namespace on a namespaced document that names none (nested or pasted flat); a
 *  document naming another namespace is an error, as in calicoctl. */
export function withNamespace(doc: unknown, ns: string, index: number): unknown {
  if (!isRecord(doc)) return doc;
  const kind = typeof doc.kind === 'string' ? doc.kind : '';
  const namespaced = doc.apiVersion === 'networking.k8s.io/v1' ? kind === 'NetworkPolicy' : kindByName(kind)?.namespaced === true;
  if (!namespaced) return doc;
  const meta = isRecord(doc.metadata) ? doc.metadata : undefined;
  const have = meta ? meta.namespace : doc.namespace;
  if (have !== undefined && have !== ns) throw new UsageError(`document ${index + 1}: metadata.namespace ${JSON.stringify(have)} does not match -n ${JSON.stringify(ns)}`);
  return meta ? { ...doc, metadata: { ...meta, namespace: ns } } : { ...doc, namespace: ns };
}

/** What is stored but not enforced by tortie-node, said at write time rather than discovered
 *  later: preDNAT (mangle) and doNotTrack (raw) GlobalNetworkPolicies, Calico BGP fields not acted on. */
export function enforcementWarnings(resources: readonly Resource[]): string[] {
  const out: string[] = [];
  for (const r of resources) {
    if (r.kind !== 'GlobalNetworkPolicy') continue;
    const spec = r.spec as { preDNAT?: boolean; doNotTrack?: boolean };
    const what = spec.preDNAT ? 'preDNAT' : spec.doNotTrack ? 'doNotTrack' : undefined;
    if (what) out.push(`GlobalNetworkPolicy ${r.metadata.name}: ${what} policy is stored but not enforced by tortie-node (host endpoints take normal and applyOnForward policy only)`);
  }
  return [...out, ...bgpFieldWarnings(resources)];
}
