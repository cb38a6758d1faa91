// `tortiectl version`: calicoctl's lines — the client's version, then the cluster's from the
// `default` ClusterInformation when the datastore has one. An unreachable datastore fails (exit 1)
// after the client lines, so the client version is always shown.
import type { Command } from 'commander';
import type { CtlContext } from '../context.js';
import { clientVersion } from '../version.js';

interface ClusterInformationSpec {
  calicoVersion?: string;
  clusterType?: string;
}

export function formatVersion(client: string, cluster: ClusterInformationSpec | undefined): string {
  const rows: [string, string][] = [['Client Version:', client]];
  if (cluster) {
    rows.push(['Cluster Version:', cluster.calicoVersion || 'unknown']);
    rows.push(['Cluster Type:', cluster.clusterType || 'etcdv3']);
  } else {
    rows.push(['Cluster Version:', "unknown (no ClusterInformation 'default' in the datastore)"]);
    rows.push(['Cluster Type:', 'etcdv3']);
  }
  return rows.map(([k, v]) => `${k.padEnd(19)}${v}\n`).join('');
}

export function registerVersion(program: Command, ctx: CtlContext): void {
  program.version(clientVersion(), '--version', "print the client's version");
  program
    .command('version')
    .description("print the client's version and the cluster's (like calicoctl version)")
    .action(async () => {
      const client = clientVersion();
      ctx.out.write(`${'Client Version:'.padEnd(19)}${client}\n`);
      // ClusterInformation is not a kind of Tortie's model (nothing writes it yet), so the cluster
      // line says so; listing the pools still proves the datastore answers.
      await (await ctx.client()).store.list('IPPool');
      const spec: ClusterInformationSpec | undefined = undefined;
      ctx.out.write(formatVersion(client, spec).split('\n').slice(1).join('\n'));
    });
}
