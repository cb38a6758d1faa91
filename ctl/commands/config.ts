// config set|get nodeToNodeMesh on|off, config set|get asNumber N: edits the `default`
// BGPConfiguration (created if absent), compare-and-swap with a few retries on conflict.
import type { Command } from 'commander';
import { DatastoreError } from '../../datastore/store.js';
import type { ResourceClient } from '../../datastore/client.js';
import { parseASNumber } from '../../datastore/model/index.js';
import type { Resource } from '../../datastore/model/resource.js';
import { API_VERSION } from '../../datastore/model/resource.js';
import type { CtlContext } from '../context.js';
import { UsageError } from '../errors.js';

const DEFAULT_AS = 64512;

type Spec = Record<string, unknown>;

export interface ConfigSetting {
  /** Spec fields to merge into the default BGPConfiguration. */
  apply(value: string): Spec;
  show(spec: Spec): string;
}

export const SETTINGS: Record<string, ConfigSetting> = {
  nodetonodemesh: {
    apply(value) {
      const v = value.toLowerCase();
      if (v !== 'on' && v !== 'off') throw new UsageError(`config: nodeToNodeMesh takes on or off, not '${value}'`);
      return { nodeToNodeMeshEnabled: v === 'on' };
    },
    show: (spec) => (spec.nodeToNodeMeshEnabled === false ? 'off' : 'on'),
  },
  asnumber: {
    apply(value) {
      const r = parseASNumber(value);
      if (r === undefined) throw new UsageError(`config: asNumber '${value}' is not an AS number (1-4294967295 or asdot like 1.10)`);
      return { asNumber: r };
    },
    show: (spec) => String(spec.asNumber ?? DEFAULT_AS),
  },
};

export function setting(name: string): ConfigSetting {
  const s = SETTINGS[name.toLowerCase()];
  if (!s) throw new UsageError(`config: unknown setting '${name}' (known: nodeToNodeMesh, asNumber)`);
  return s;
}

async function readDefault(client: ResourceClient): Promise<Resource | undefined> {
  try {
    return await client.get('BGPConfiguration', 'default');
  } catch (err) {
    if (err instanceof DatastoreError && err.code === 'NotFound') return undefined;
    throw err;
  }
}

export async function setDefaultBGPConfig(client: ResourceClient, fields: Spec): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await readDefault(client);
    try {
      if (!current) await client.create({ apiVersion: API_VERSION, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: fields });
      else await client.update({ ...current, spec: { ...(current.spec as Spec), ...fields } });
      return;
    } catch (err) {
      // Someone else wrote it between our read and write: read again.
      const raced = err instanceof DatastoreError && (err.code === 'Conflict' || err.code === 'AlreadyExists');
      const stale = err instanceof Error && /changed since you read it|already exists/.test(err.message);
      if (attempt >= 3 || !(raced || stale)) throw err;
    }
  }
}

export function registerConfig(program: Command, ctx: CtlContext): void {
  const config = program.command('config').description('cluster BGP settings kept in the default BGPConfiguration');
  config
    .command('set')
    .description('set nodeToNodeMesh on|off or asNumber N')
    .argument('<name>', 'nodeToNodeMesh or asNumber')
    .argument('<value>', 'on|off, or an AS number')
    .action(async (name: string, value: string) => {
      const fields = setting(name).apply(value);
      await setDefaultBGPConfig((await ctx.client()), fields);
      ctx.out.write(`Successfully set ${name} to ${value}\n`);
    });
  config
    .command('get')
    .description('print nodeToNodeMesh or asNumber')
    .argument('<name>', 'nodeToNodeMesh or asNumber')
    .action(async (name: string) => {
      const s = setting(name);
      const current = await readDefault(await ctx.client());
      ctx.out.write(s.show((current?.spec ?? {}) as Spec) + '\n');
    });
}
