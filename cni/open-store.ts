// Which CniStore a plugin command uses: the local tortie-node when one listens on the CNI socket;
// otherwise, when the config names a datastore, the plugin's own (slow) path to it.
import { AgentAbsent, AgentStore, DEFAULT_AGENT_SOCKET } from './agent-client.js';
import type { NetConf } from './config.js';
import { datastoreConfigured, directStore } from './datastore.js';
import { CNI_CODES, CniError } from './errors.js';
import { toCniError } from './run.js';
import type { CniStore } from './store.js';

/**
 * Thrown instead of taking the agent-less path where that path's code is not loaded: the single
 * executable's main script leaves out the datastore clients (etcd3 + gRPC, client-node: megabytes
 * that every command would parse at start-up) and runs such a command again through the full
 * plugin it carries (install/cni-plugins.ts). Nothing has been changed when this is thrown.
 */
export class DirectPathElsewhere extends Error {}

let directPathHere = true;

/** Called by a build whose module graph lacks the agent-less path's clients (see DirectPathElsewhere). */
export function directPathIsElsewhere(): void {
  directPathHere = false;
}

export interface OpenedStore {
  store: CniStore;
  /** Why the agent was not used, added to an error from the direct path. */
  fallbackReason?: string;
}

export function agentSocket(conf: NetConf, env: NodeJS.ProcessEnv): string {
  return conf.agent_socket || env.TORTIE_CNI_SOCKET || DEFAULT_AGENT_SOCKET;
}

export async function openStore(conf: NetConf, env: NodeJS.ProcessEnv, deadline: number): Promise<OpenedStore> {
  const path = agentSocket(conf, env);
  try {
    return { store: await AgentStore.open(path, deadline) };
  } catch (e) {
    if (!(e instanceof AgentAbsent)) throw e;
    if (!datastoreConfigured(conf, env))
      throw new CniError(CNI_CODES.tryAgainLater, `${e.message}; is tortie-node running on this host? (the network config names no datastore to use instead: etcd_endpoints, or datastore_type kubernetes with kubernetes.kubeconfig)`);
    if (!directPathHere) throw new DirectPathElsewhere(e.message);
    return { store: await directStore(conf, env, deadline), fallbackReason: e.message };
  }
}

/** Runs fn with the store open, closing it after; an error from the direct path says why it was taken. */
export async function withStore<T>(conf: NetConf, env: NodeJS.ProcessEnv, deadline: number, fn: (store: CniStore) => Promise<T>): Promise<T> {
  const { store, fallbackReason } = await openStore(conf, env, deadline);
  try {
    return await fn(store);
  } catch (e) {
    if (!fallbackReason) throw e;
    const err = toCniError(e);
    throw new CniError(err.code, `${err.message} (${fallbackReason}, so the plugin used the datastore itself)`, err.details);
  } finally {
    await store.close().catch(() => undefined);
  }
}
