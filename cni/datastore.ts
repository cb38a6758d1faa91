// The datastore a plugin talks to: Calico's etcd_* config keys, else the ETCD_* environment.
import { readFileSync } from 'node:fs';
import type { Backend } from '../datastore/backend.js';
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { CNI_CODES, CniError } from './errors.js';
import type { NetConf } from './config.js';

function readPem(field: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CniError(CNI_CODES.invalidConfig, `${field} "${path}" cannot be read: ${(e as Error).message}`);
  }
}

export function backendFromConf(conf: NetConf, env: NodeJS.ProcessEnv = process.env): Backend {
  const endpoints = (conf.etcd_endpoints ?? env.ETCD_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) throw new CniError(CNI_CODES.invalidConfig, 'no datastore: set etcd_endpoints in the network config (or ETCD_ENDPOINTS)');
  const ca = readPem('etcd_ca_cert_file', conf.etcd_ca_cert_file ?? env.ETCD_CA_CERT_FILE);
  const cert = readPem('etcd_cert_file', conf.etcd_cert_file ?? env.ETCD_CERT_FILE);
  const key = readPem('etcd_key_file', conf.etcd_key_file ?? env.ETCD_KEY_FILE);
  try {
    return new EtcdBackend({ endpoints, ...(ca ? { tls: { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}) });
  } catch (e) {
    throw new CniError(CNI_CODES.invalidConfig, `etcd_endpoints: ${(e as Error).message}`);
  }
}
