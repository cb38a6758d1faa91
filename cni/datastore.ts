// The datastore a plugin reaches itself when no tortie-node answers: Calico's etcd_* config keys,
// else the ETCD_* environment; or, with `datastore_type: kubernetes` (or DATASTORE_TYPE), the
// Kubernetes API through `kubernetes.kubeconfig` (else KUBECONFIG), as Calico's calico.conf has it.
// Either client (etcd3 → grpc-js → protobufjs, ~250 module files; @kubernetes/client-node) would be
// the bulk of a plugin's start-up, so it is imported only here, only on that path.
import { readFileSync } from 'node:fs';
import type { Store } from '../datastore/store.js';
import { parseEndpoints } from '../datastore/endpoints.js';
import { DirectStore } from './direct-store.js';
import { DEFAULT_IPAM_LOCK, withHostLock } from './host-lock.js';
import { CNI_CODES, CniError } from './errors.js';
import type { CniStore } from './store.js';
import type { NetConf } from './config.js';

function readPem(field: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CniError(CNI_CODES.invalidConfig, `${field} "${path}" cannot be read: ${(e as Error).message}`);
  }
}

/** TLS file paths from the config keys, else calicoctl's variables (and the seed's ETCD_CA_FILE). */
export function tlsFiles(conf: NetConf, env: NodeJS.ProcessEnv): { ca?: string; cert?: string; key?: string } {
  return {
    ca: conf.etcd_ca_cert_file || env.ETCD_CA_CERT_FILE || env.ETCD_CA_FILE || undefined,
    cert: conf.etcd_cert_file || env.ETCD_CERT_FILE || undefined,
    key: conf.etcd_key_file || env.ETCD_KEY_FILE || undefined,
  };
}

/**
 * etcd_endpoints as calicoctl reads ETCD_ENDPOINTS: the seed's calico.conf writes
 * "https://{ETCD1},https://{ETCD2}:2379", so a missing port is 2379 and a left-in placeholder is named.
 */
export function etcdEndpoints(conf: NetConf, env: NodeJS.ProcessEnv): string[] {
  const field = conf.etcd_endpoints !== undefined ? 'etcd_endpoints' : 'ETCD_ENDPOINTS';
  const text = conf.etcd_endpoints ?? env.ETCD_ENDPOINTS ?? '';
  if (!text.trim()) throw new CniError(CNI_CODES.invalidConfig, 'no datastore: set etcd_endpoints in the network config (or ETCD_ENDPOINTS)');
  const f = tlsFiles(conf, env);
  return parseEndpoints(text, Boolean(f.ca || f.cert || f.key), (msg) => {
    throw new CniError(CNI_CODES.invalidConfig, `${field}: ${msg}`);
  });
}

/**
 * Checks the datastore settings at once (a bad endpoint or unreadable TLS file throws here, before
 * the command does anything) and loads the etcd client, which the caller awaits.
 */
function storeFromConf(conf: NetConf, env: NodeJS.ProcessEnv, callTimeoutMs: number): Promise<Store> {
  const endpoints = etcdEndpoints(conf, env);
  const files = tlsFiles(conf, env);
  const ca = readPem('etcd_ca_cert_file', files.ca);
  const cert = readPem('etcd_cert_file', files.cert);
  const key = readPem('etcd_key_file', files.key);
  // EtcdBackend refuses this too, but only once loaded: said here, a bad config still fails before any side effect.
  if (new Set(endpoints.map((e) => e.slice(0, e.indexOf(':')))).size > 1)
    throw new CniError(CNI_CODES.invalidConfig, `etcd_endpoints: etcd endpoints mix http and https: ${endpoints.join(',')}`);
  const be = Promise.all([import('../datastore/backends/etcd.js'), import('../datastore/backends/etcd-store.js')]).then(([{ EtcdBackend }, { EtcdStore }]) => {
    try {
      return new EtcdStore(new EtcdBackend({ endpoints, callTimeoutMs, ...(ca ? { tls: { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}) }));
    } catch (e) {
      throw new CniError(CNI_CODES.invalidConfig, `etcd_endpoints: ${(e as Error).message}`);
    }
  });
  return be;
}


/** The config's datastore_type, else DATASTORE_TYPE from the environment (Calico reads both). */
function usesKubernetes(conf: NetConf, env: NodeJS.ProcessEnv): boolean {
  return (conf.datastore_type ?? env.DATASTORE_TYPE?.trim()) === 'kubernetes';
}

/**
 * The Kubernetes datastore through the kubeconfig the config names: a missing or unusable file is
 * an invalid config naming the field, said before the command does anything.
 */
function kubernetesStore(conf: NetConf, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Store> {
  const field = conf.kubernetes?.kubeconfig ? 'kubernetes.kubeconfig' : 'KUBECONFIG';
  const kubeconfig = conf.kubernetes?.kubeconfig || env.KUBECONFIG?.trim();
  if (!kubeconfig) throw new CniError(CNI_CODES.invalidConfig, 'datastore_type kubernetes needs kubernetes.kubeconfig in the network config (or KUBECONFIG)');
  const server = conf.kubernetes?.k8s_api_root || undefined;
  return import('../datastore/backends/kubernetes/store.js').then(({ KubernetesStore }) => {
    try {
      return new KubernetesStore({ kubeconfig, timeoutMs, ...(server ? { server } : {}) });
    } catch (e) {
      throw new CniError(CNI_CODES.invalidConfig, `${field}: ${(e as Error).message}`);
    }
  });
}

/** The datastore set in the config or environment, if any: what a plugin without an agent can use. */
export function datastoreConfigured(conf: NetConf, env: NodeJS.ProcessEnv): boolean {
  return usesKubernetes(conf, env) || Boolean((conf.etcd_endpoints ?? env.ETCD_ENDPOINTS ?? '').trim());
}

/** The plugin's own path to the datastore (etcd client and allocator loaded now), until the deadline. */
export async function directStore(conf: NetConf, env: NodeJS.ProcessEnv, deadline: number): Promise<CniStore> {
  // One call may not outlast the command: its budget is what is left, at most the clients' default 4 s.
  const callTimeoutMs = Math.max(500, Math.min(4000, deadline - Date.now()));
  const be = usesKubernetes(conf, env) ? kubernetesStore(conf, env, callTimeoutMs) : storeFromConf(conf, env, callTimeoutMs);
  try {
    const [store, { IpamClient }] = await Promise.all([be, import('../ipam/allocator.js')]);
    // Concurrent plugins on this host take turns writing blocks, as under Calico's ipam.lock.
    const lock = env.TORTIE_IPAM_LOCK_FILE || DEFAULT_IPAM_LOCK;
    return new DirectStore(store, new IpamClient(store), deadline, 'the datastore', () => store.close(), (fn) => withHostLock(lock, deadline, fn));
  } catch (e) {
    await be.then((b) => b.close()).catch(() => undefined);
    throw e;
  }
}
