// Datastore connection configuration, as calicoctl reads it: a config file (v1 `calicoApiConfig` or
// v3 `CalicoAPIConfig`) when one exists, otherwise environment variables. Parsing is pure; only
// loadDatastoreConfig touches the filesystem.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DatastoreError } from './errors.js';
import { parseEndpoints } from './endpoints.js';

// Re-exported: callers that need only endpoint parsing (the CNI plugins) import endpoints.js and skip yaml.
export { parseEndpoints };

export const DEFAULT_CONFIG_FILE = '/etc/tortie/tortiectl.cfg';
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

export interface EtcdConnection {
  endpoints: string[];
  caCertFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Inline PEM (calico's etcdCACert / etcdCert / etcdKey), instead of files. */
  caCert?: string;
  cert?: string;
  key?: string;
  username?: string;
  password?: string;
}

export type DatastoreConfig =
  | { type: 'etcdv3'; etcd: EtcdConnection; source: string; warnings: string[] }
  | { type: 'kubernetes'; kubeconfig?: string; k8sAPIEndpoint?: string; source: string; warnings: string[] };

/** A configuration problem; the message names the file (or variable) and the field. */
export class DatastoreConfigError extends DatastoreError {
  constructor(
    message: string,
    readonly source: string,
    readonly field?: string,
  ) {
    super('Invalid', message);
    this.name = 'DatastoreConfigError';
  }
}

/** Spec fields, with the environment variable calicoctl reads for each. */
const SPEC_FIELDS = {
  datastoreType: ['DATASTORE_TYPE'],
  etcdEndpoints: ['ETCD_ENDPOINTS'],
  etcdCACertFile: ['ETCD_CA_CERT_FILE', 'ETCD_CA_FILE'],
  etcdCertFile: ['ETCD_CERT_FILE'],
  etcdKeyFile: ['ETCD_KEY_FILE'],
  etcdCACert: ['ETCD_CA_CERT'],
  etcdCert: ['ETCD_CERT'],
  etcdKey: ['ETCD_KEY'],
  etcdUsername: ['ETCD_USERNAME'],
  etcdPassword: ['ETCD_PASSWORD'],
  kubeconfig: ['KUBECONFIG'],
  k8sAPIEndpoint: ['K8S_API_ENDPOINT'],
} as const;
type SpecField = keyof typeof SPEC_FIELDS;
type Spec = Partial<Record<SpecField, string>>;

const isSpecField = (k: string): k is SpecField => Object.hasOwn(SPEC_FIELDS, k);

/** Tutorials pasted from web pages carry non-breaking spaces where YAML needs plain ones. */
function normaliseSpaces(text: string): string {
  return text.replace(/[\u00a0\u2007\u202f\u3000]/g, ' ').replace(/^\uFEFF/, '');
}

/** Parses the text of a calicoctl-style config file. `file` is used in error messages. */
export function parseConfigFile(text: string, file: string): DatastoreConfig {
  const warnings: string[] = [];
  let doc: unknown;
  try {
    doc = parseYaml(normaliseSpaces(text), { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
      throw new DatastoreConfigError(`${file}: broken YAML at ${where}: ${err.message.split('\n')[0]}`, file);
    }
    throw err;
  }
  if (!isRecord(doc)) throw new DatastoreConfigError(`${file}: expected a mapping with apiVersion, kind and spec`, file);
  const apiVersion = str(doc.apiVersion, file, 'apiVersion');
  const kind = str(doc.kind, file, 'kind');
  const v1 = apiVersion === 'v1';
  if (v1) {
    if (kind !== 'calicoApiConfig') throw new DatastoreConfigError(`${file}: kind: expected calicoApiConfig for apiVersion v1, got ${JSON.stringify(kind)}`, file, 'kind');
  } else if (apiVersion === 'projectcalico.org/v3') {
    if (kind !== 'CalicoAPIConfig') throw new DatastoreConfigError(`${file}: kind: expected CalicoAPIConfig for apiVersion projectcalico.org/v3, got ${JSON.stringify(kind)}`, file, 'kind');
  } else {
    throw new DatastoreConfigError(`${file}: apiVersion: expected v1 or projectcalico.org/v3, got ${JSON.stringify(apiVersion ?? null)}`, file, 'apiVersion');
  }

  let specRaw: unknown = doc.spec;
  const topLevelSpec = Object.keys(doc).filter(isSpecField);
  if (topLevelSpec.length > 0) {
    // Web tutorials lose indentation: "spec:" followed by unindented fields. Take them as the spec.
    if (specRaw !== null && specRaw !== undefined) {
      throw new DatastoreConfigError(`${file}: ${topLevelSpec[0]}: belongs under spec, not at the top level`, file, topLevelSpec[0]);
    }
    specRaw = Object.fromEntries(topLevelSpec.map((k) => [k, doc[k]]));
    warnings.push(`${file}: ${topLevelSpec.join(', ')} should be indented under spec; read them as spec fields`);
  }
  for (const k of Object.keys(doc)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', ...topLevelSpec].includes(k)) {
      throw new DatastoreConfigError(`${file}: unknown field ${k}`, file, k);
    }
  }
  if (specRaw === null || specRaw === undefined) specRaw = {};
  if (!isRecord(specRaw)) throw new DatastoreConfigError(`${file}: spec: expected a mapping`, file, 'spec');

  const spec: Spec = {};
  for (const [k, v] of Object.entries(specRaw)) {
    if (!isSpecField(k)) {
      throw new DatastoreConfigError(`${file}: spec.${k}: unknown field (known: ${Object.keys(SPEC_FIELDS).join(', ')})`, file, `spec.${k}`);
    }
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new DatastoreConfigError(`${file}: spec.${k}: expected a string, got ${Array.isArray(v) ? 'a list' : typeof v}`, file, `spec.${k}`);
    }
    const s = String(v).trim();
    if (s !== '') spec[k] = s;
  }
  return fromSpec(spec, file, (f) => `spec.${f}`, warnings);
}

/** Reads the same settings from environment variables (calicoctl's names, plus the seed's ETCD_CA_FILE). */
export function configFromEnv(env: Record<string, string | undefined>): DatastoreConfig {
  const spec: Spec = {};
  const varFor: Partial<Record<SpecField, string>> = {};
  for (const [field, names] of Object.entries(SPEC_FIELDS) as [SpecField, readonly string[]][]) {
    for (const name of names) {
      const v = env[name]?.trim();
      if (v) {
        spec[field] = v;
        varFor[field] = name;
        break;
      }
    }
  }
  return fromSpec(spec, 'environment', (f) => varFor[f] ?? SPEC_FIELDS[f][0], []);
}

function fromSpec(spec: Spec, source: string, fieldName: (f: SpecField) => string, warnings: string[]): DatastoreConfig {
  const where = (f: SpecField): string => (source === 'environment' ? fieldName(f) : `${source}: ${fieldName(f)}`);
  const type = (spec.datastoreType ?? 'etcdv3').toLowerCase();
  if (type === 'kubernetes' || type === 'k8s') {
    return {
      type: 'kubernetes',
      ...(spec.kubeconfig ? { kubeconfig: spec.kubeconfig } : {}),
      ...(spec.k8sAPIEndpoint ? { k8sAPIEndpoint: spec.k8sAPIEndpoint } : {}),
      source,
      warnings,
    };
  }
  if (type === 'etcdv2') {
    warnings.push(`${where('datastoreType')}: etcdv2 read as etcdv3 (Tortie speaks the etcd v3 API, as Calico 3 does)`);
  } else if (type !== 'etcdv3') {
    throw new DatastoreConfigError(`${where('datastoreType')}: expected etcdv3 or kubernetes, got ${JSON.stringify(spec.datastoreType)}`, source, fieldName('datastoreType'));
  }
  const tls = Boolean(spec.etcdCACertFile || spec.etcdCertFile || spec.etcdKeyFile || spec.etcdCACert || spec.etcdCert || spec.etcdKey);
  const endpoints = parseEndpoints(spec.etcdEndpoints ?? DEFAULT_ETCD_ENDPOINT, tls, (msg) => {
    throw new DatastoreConfigError(`${where('etcdEndpoints')}: ${msg}`, source, fieldName('etcdEndpoints'));
  }, (msg) => warnings.push(`${where('etcdEndpoints')}: ${msg}`));
  if (Boolean(spec.etcdCertFile || spec.etcdCert) !== Boolean(spec.etcdKeyFile || spec.etcdKey)) {
    const missing: SpecField = spec.etcdCertFile || spec.etcdCert ? 'etcdKeyFile' : 'etcdCertFile';
    throw new DatastoreConfigError(`${where(missing)}: a client certificate and its key go together; ${fieldName(missing)} is missing`, source, fieldName(missing));
  }
  if (tls && endpoints.some((e) => e.startsWith('http://'))) {
    warnings.push(`${where('etcdEndpoints')}: TLS files are set but ${endpoints.filter((e) => e.startsWith('http://')).join(',')} is plain http; they are not used for it`);
  }
  const etcd: EtcdConnection = { endpoints };
  if (spec.etcdCACertFile) etcd.caCertFile = spec.etcdCACertFile;
  if (spec.etcdCertFile) etcd.certFile = spec.etcdCertFile;
  if (spec.etcdKeyFile) etcd.keyFile = spec.etcdKeyFile;
  if (spec.etcdCACert) etcd.caCert = spec.etcdCACert;
  if (spec.etcdCert) etcd.cert = spec.etcdCert;
  if (spec.etcdKey) etcd.key = spec.etcdKey;
  if (spec.etcdUsername) etcd.username = spec.etcdUsername;
  if (spec.etcdPassword) etcd.password = spec.etcdPassword;
  return { type: 'etcdv3', etcd, source, warnings };
}

export interface LoadOptions {
  /** --config: an explicit file must exist; the default file is used only when it exists. */
  configFile?: string;
  env?: Record<string, string | undefined>;
}

/** The shell around the pure parsers: picks the file or the environment, as calicoctl does. */
export function loadDatastoreConfig(opts: LoadOptions = {}): DatastoreConfig {
  const env = opts.env ?? process.env;
  const file = opts.configFile ?? DEFAULT_CONFIG_FILE;
  if (opts.configFile !== undefined || existsSync(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new DatastoreConfigError(`config file ${file}: ${why}`, file);
    }
    return parseConfigFile(text, file);
  }
  return configFromEnv(env);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DatastoreConfigError(`${file}: ${field}: expected a string`, file, field);
  return v.trim();
}
