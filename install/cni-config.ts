// What install-cni writes, computed without touching the disk: its settings from Calico's install
// environment variables, the conflist from the cni_network_config template with Calico's
// placeholders substituted, and the plugin's kubeconfig. The shell (main.ts) does the file work.
import { stringify } from 'yaml';

export type Env = Readonly<Record<string, string | undefined>>;

export interface InstallSettings {
  /** Where the host's CNI binary directory is mounted in the container (Calico: /host/opt/cni/bin). */
  binDir: string;
  /** Where the host's CNI config directory is mounted in the container (Calico: /host/etc/cni/net.d). */
  netDir: string;
  /** The host's own path of that directory, written into the conflist (CNI_NET_DIR). */
  hostNetDir: string;
  confName: string;
  /** A conflist an older install wrote under another name; removed (CNI_OLD_CONF_NAME). */
  oldConfName: string;
  /** The cni_network_config template, or undefined for the default one. */
  template?: string;
  /** Replace binaries already on the host (UPDATE_CNI_BINARIES, default true). */
  updateBinaries: boolean;
  skipBinaries: string[];
  /** The etcd TLS files mounted from the Secret (Calico's /calico-secrets). */
  tlsAssetsDir: string;
  /** Stay running after installing (SLEEP; a DaemonSet init container sets "false"). */
  sleep: boolean;
}

export const KUBECONFIG_NAME = 'tortie-kubeconfig';
export const TLS_DIR_NAME = 'tortie-tls';
export const TLS_FILES = ['etcd-ca', 'etcd-cert', 'etcd-key'] as const;
export type TlsFile = (typeof TLS_FILES)[number];

/**
 * Without cni_network_config: the plugin, then the reference portmap plugin for hostPort, as
 * Calico's default chains them. No kubernetes block: the manifests' templates add it where a
 * kubeconfig is written.
 */
export const DEFAULT_TEMPLATE = JSON.stringify(
  {
    name: 'k8s-pod-network',
    cniVersion: '0.3.1',
    plugins: [
      {
        type: 'tortie',
        log_level: '__LOG_LEVEL__',
        datastore_type: '__DATASTORE_TYPE__',
        etcd_endpoints: '__ETCD_ENDPOINTS__',
        etcd_key_file: '__ETCD_KEY_FILE__',
        etcd_cert_file: '__ETCD_CERT_FILE__',
        etcd_ca_cert_file: '__ETCD_CA_CERT_FILE__',
        nodename: '__KUBERNETES_NODE_NAME__',
        mtu: '__CNI_MTU__',
        ipam: { type: 'tortie-ipam' },
      },
      { type: 'portmap', snat: true, capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
).replace('"__CNI_MTU__"', '__CNI_MTU__');

function bool(env: Env, name: string, def: boolean, errors: string[]): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return def;
  if (v === 'true') return true;
  if (v === 'false') return false;
  errors.push(`${name}: "${env[name]}" is not true or false`);
  return def;
}

export type SettingsResult = { ok: true; settings: InstallSettings } | { ok: false; errors: string[] };

/** `template` is CNI_NETWORK_CONFIG, or the contents of CNI_NETWORK_CONFIG_FILE read by the caller. */
export function parseSettings(env: Env, template?: string): SettingsResult {
  const errors: string[] = [];
  const name = (v: string | undefined, def: string, varName: string): string => {
    const s = v?.trim() || def;
    if (s.includes('/')) errors.push(`${varName}: "${s}" must be a file name, not a path`);
    return s;
  };
  const settings: InstallSettings = {
    binDir: env.CNI_BIN_DIR_MOUNT?.trim() || '/host/opt/cni/bin',
    netDir: env.CNI_NET_DIR_MOUNT?.trim() || '/host/etc/cni/net.d',
    hostNetDir: env.CNI_NET_DIR?.trim() || '/etc/cni/net.d',
    confName: name(env.CNI_CONF_NAME, '10-tortie.conflist', 'CNI_CONF_NAME'),
    oldConfName: name(env.CNI_OLD_CONF_NAME, '10-tortie.conflist', 'CNI_OLD_CONF_NAME'),
    ...(template !== undefined && template.trim() !== '' ? { template } : {}),
    updateBinaries: bool(env, 'UPDATE_CNI_BINARIES', true, errors),
    skipBinaries: (env.SKIP_CNI_BINARIES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    tlsAssetsDir: env.TLS_ASSETS_DIR?.trim() || '/calico-secrets',
    sleep: bool(env, 'SLEEP', true, errors),
  };
  return errors.length ? { ok: false, errors } : { ok: true, settings };
}

export interface Facts {
  hostname: string;
  /** The TLS files install-cni placed on the host (their placeholders point there; else ""). */
  tlsInstalled: ReadonlySet<TlsFile>;
}

/** Each placeholder Calico's install substitutes, with the value it gets. */
export function placeholders(env: Env, s: InstallSettings, facts: Facts): Record<string, string> {
  const get = (k: string, def: string): string => env[k] ?? def;
  const tls = (f: TlsFile): string => (facts.tlsInstalled.has(f) ? `${s.hostNetDir}/${TLS_DIR_NAME}/${f}` : '');
  return {
    __LOG_LEVEL__: get('LOG_LEVEL', 'info'),
    __LOG_FILE_PATH__: get('LOG_FILE_PATH', '/var/log/calico/cni/cni.log'),
    __LOG_FILE_MAX_SIZE__: get('LOG_FILE_MAX_SIZE', '100'),
    __LOG_FILE_MAX_AGE__: get('LOG_FILE_MAX_AGE', '30'),
    __LOG_FILE_MAX_COUNT__: get('LOG_FILE_MAX_COUNT', '10'),
    __DATASTORE_TYPE__: get('DATASTORE_TYPE', 'kubernetes'),
    __KUBERNETES_NODE_NAME__: get('KUBERNETES_NODE_NAME', facts.hostname),
    __KUBECONFIG_FILEPATH__: `${s.hostNetDir}/${KUBECONFIG_NAME}`,
    __CNI_MTU__: get('CNI_MTU', '1500'),
    __KUBERNETES_SERVICE_HOST__: get('KUBERNETES_SERVICE_HOST', ''),
    __KUBERNETES_SERVICE_PORT__: get('KUBERNETES_SERVICE_PORT', ''),
    __ETCD_CERT_FILE__: tls('etcd-cert'),
    __ETCD_CA_CERT_FILE__: tls('etcd-ca'),
    __ETCD_KEY_FILE__: tls('etcd-key'),
    __ETCD_ENDPOINTS__: get('ETCD_ENDPOINTS', ''),
    __ETCD_DISCOVERY_SRV__: get('ETCD_DISCOVERY_SRV', ''),
  };
}

export type RenderResult = { ok: true; conflist: string; warnings: string[] } | { ok: false; error: string };

/** The template with every placeholder replaced; it must then be a JSON object. */
export function renderConflist(template: string, values: Record<string, string>): RenderResult {
  let out = template;
  for (const [k, v] of Object.entries(values)) out = out.split(k).join(v);
  let doc: unknown;
  try {
    doc = JSON.parse(out);
  } catch (e) {
    return { ok: false, error: `CNI_NETWORK_CONFIG: not valid JSON after substitution: ${(e as Error).message}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, error: 'CNI_NETWORK_CONFIG: must be a JSON object' };
  const unknown = [...new Set(out.match(/__[A-Z0-9_]+__/g) ?? [])];
  const warnings = unknown.map((p) => `CNI_NETWORK_CONFIG: placeholder ${p} is not one install-cni substitutes; left as is`);
  return { ok: true, conflist: `${JSON.stringify(doc, null, 2)}\n`, warnings };
}

export interface ApiServer {
  protocol: string;
  host: string;
  port: string;
  token: string;
  /** The cluster CA (PEM); undefined with SKIP_TLS_VERIFY=true. */
  caPem?: string;
}

/** The API server as a pod sees it, or undefined outside Kubernetes (no KUBERNETES_SERVICE_HOST). */
export function apiServerFromEnv(env: Env, token: string | undefined, caPem: string | undefined): ApiServer | undefined {
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  if (!host || token === undefined) return undefined;
  const skipTls = env.SKIP_TLS_VERIFY?.trim().toLowerCase() === 'true';
  return {
    protocol: env.KUBERNETES_SERVICE_PROTOCOL?.trim() || 'https',
    host,
    port: env.KUBERNETES_SERVICE_PORT?.trim() || '443',
    token: token.trim(),
    ...(skipTls || caPem === undefined ? {} : { caPem }),
  };
}

/** Calico's calico-kubeconfig layout: cluster "local", user "calico", context "calico-context". */
export function renderKubeconfig(api: ApiServer): string {
  const host = api.host.includes(':') ? `[${api.host}]` : api.host;
  const cluster: Record<string, unknown> = { server: `${api.protocol}://${host}:${api.port}` };
  if (api.caPem !== undefined) cluster['certificate-authority-data'] = Buffer.from(api.caPem).toString('base64');
  else cluster['insecure-skip-tls-verify'] = true;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster }],
    users: [{ name: 'calico', user: { token: api.token } }],
    contexts: [{ name: 'calico-context', context: { cluster: 'local', user: 'calico' } }],
    'current-context': 'calico-context',
  };
  return `# Kubeconfig file for the Tortie CNI plugin (written by install-cni).\n${stringify(doc)}`;
}
