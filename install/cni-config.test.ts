import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiServerFromEnv, DEFAULT_TEMPLATE, parseSettings, placeholders, renderConflist, renderKubeconfig, type InstallSettings } from './cni-config.js';
import { pluginFor } from './plugin-name.js';

const settings = (env: Record<string, string> = {}, template?: string): InstallSettings => {
  const r = parseSettings(env, template);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.settings;
};

// calico.yaml's cni_network_config, with tortie's plugin names.
const CALICO_TEMPLATE = `{
  "name": "k8s-pod-network",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "tortie",
      "log_level": "__LOG_LEVEL__",
      "datastore_type": "__DATASTORE_TYPE__",
      "etcd_endpoints": "__ETCD_ENDPOINTS__",
      "etcd_key_file": "__ETCD_KEY_FILE__",
      "etcd_cert_file": "__ETCD_CERT_FILE__",
      "etcd_ca_cert_file": "__ETCD_CA_CERT_FILE__",
      "nodename": "__KUBERNETES_NODE_NAME__",
      "mtu": __CNI_MTU__,
      "ipam": { "type": "tortie-ipam" },
      "kubernetes": { "kubeconfig": "__KUBECONFIG_FILEPATH__" }
    },
    { "type": "portmap", "snat": true, "capabilities": { "portMappings": true } }
  ]
}`;

describe('install-cni settings (Calico install environment)', () => {
  it('defaults to the host mounts, 10-tortie.conflist and Calico\'s SLEEP=true', () => {
    const s = settings();
    expect(s).toMatchObject({ binDir: '/host/opt/cni/bin', netDir: '/host/etc/cni/net.d', hostNetDir: '/etc/cni/net.d', confName: '10-tortie.conflist', updateBinaries: true, sleep: true, tlsAssetsDir: '/calico-secrets' });
    expect(s.template).toBeUndefined();
  });

  it('names the variable that is wrong', () => {
    const r = parseSettings({ SLEEP: 'maybe', CNI_CONF_NAME: '../x.conflist' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.join('\n')).toContain('SLEEP: "maybe"');
      expect(r.errors.join('\n')).toContain('CNI_CONF_NAME');
    }
  });

  it('reads the skip list and the directories it is told', () => {
    const s = settings({ SKIP_CNI_BINARIES: 'portmap, tortie-ipam', CNI_NET_DIR: '/etc/kubernetes/cni/net.d', CNI_BIN_DIR_MOUNT: '/mnt/bin' });
    expect(s.skipBinaries).toEqual(['portmap', 'tortie-ipam']);
    expect(s.hostNetDir).toBe('/etc/kubernetes/cni/net.d');
    expect(s.binDir).toBe('/mnt/bin');
  });
});

describe('the conflist from cni_network_config', () => {
  it('substitutes Calico\'s placeholders: node name, MTU as a number, kubeconfig path, etcd endpoints', () => {
    const s = settings({}, CALICO_TEMPLATE);
    const env = { KUBERNETES_NODE_NAME: 'worker-1', CNI_MTU: '1440', ETCD_ENDPOINTS: 'https://10.0.0.1:2379', DATASTORE_TYPE: 'etcdv3', LOG_LEVEL: 'warning' };
    const r = renderConflist(s.template!, placeholders(env, s, { hostname: 'ignored', tlsInstalled: new Set() }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const doc = JSON.parse(r.conflist) as { plugins: Record<string, unknown>[] };
    expect(doc.plugins[0]).toMatchObject({ nodename: 'worker-1', mtu: 1440, etcd_endpoints: 'https://10.0.0.1:2379', datastore_type: 'etcdv3', log_level: 'warning', kubernetes: { kubeconfig: '/etc/cni/net.d/tortie-kubeconfig' } });
    // No TLS files from the Secret: the file placeholders become empty (the plugin then uses none).
    expect(doc.plugins[0]).toMatchObject({ etcd_key_file: '', etcd_cert_file: '', etcd_ca_cert_file: '' });
    expect(doc.plugins[1]).toEqual({ type: 'portmap', snat: true, capabilities: { portMappings: true } });
    expect(r.warnings).toEqual([]);
  });

  it('points the etcd file placeholders at the TLS files it installed on the host', () => {
    const s = settings({ CNI_NET_DIR: '/etc/cni/net.d' }, CALICO_TEMPLATE);
    const r = renderConflist(s.template!, placeholders({}, s, { hostname: 'h1', tlsInstalled: new Set(['etcd-ca', 'etcd-cert', 'etcd-key']) }));
    expect(r.ok && JSON.parse(r.conflist).plugins[0]).toMatchObject({
      etcd_ca_cert_file: '/etc/cni/net.d/tortie-tls/etcd-ca',
      etcd_cert_file: '/etc/cni/net.d/tortie-tls/etcd-cert',
      etcd_key_file: '/etc/cni/net.d/tortie-tls/etcd-key',
      nodename: 'h1', // KUBERNETES_NODE_NAME unset: the host name
      mtu: 1500, // Calico's default CNI_MTU
    });
  });

  it('the default template chains portmap, as Calico\'s does', () => {
    const s = settings();
    const r = renderConflist(DEFAULT_TEMPLATE, placeholders({ DATASTORE_TYPE: 'etcdv3' }, s, { hostname: 'h', tlsInstalled: new Set() }));
    expect(r.ok && (JSON.parse(r.conflist).plugins as { type: string }[]).map((p) => p.type)).toEqual(['tortie', 'portmap']);
  });

  it('refuses a template that is not a JSON object after substitution, naming CNI_NETWORK_CONFIG', () => {
    const s = settings();
    for (const bad of ['{"mtu": __CNI_MTU__', '[1, 2]']) {
      const r = renderConflist(bad, placeholders({}, s, { hostname: 'h', tlsInstalled: new Set() }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/^CNI_NETWORK_CONFIG: /);
    }
  });

  it('warns about a placeholder it does not know and leaves it', () => {
    const r = renderConflist('{"x": "__NOT_A_THING__"}', {});
    expect(r.ok && r.warnings).toEqual(['CNI_NETWORK_CONFIG: placeholder __NOT_A_THING__ is not one install-cni substitutes; left as is']);
  });

  it('renders the same bytes from the same input (a second run has nothing to write)', () => {
    const s = settings({}, CALICO_TEMPLATE);
    const v = placeholders({ CNI_MTU: '1400' }, s, { hostname: 'h', tlsInstalled: new Set() });
    expect(renderConflist(s.template!, v)).toEqual(renderConflist(s.template!, v));
  });
});

describe('the plugin kubeconfig', () => {
  it('is only written inside Kubernetes (KUBERNETES_SERVICE_HOST and a token)', () => {
    expect(apiServerFromEnv({}, 'tok', 'ca')).toBeUndefined();
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, undefined, 'ca')).toBeUndefined();
  });

  it('carries the ServiceAccount token and the cluster CA, in Calico\'s layout', () => {
    const api = apiServerFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'tok-123\n', '-----BEGIN CERTIFICATE-----\n');
    const doc = parse(renderKubeconfig(api!)) as Record<string, unknown>;
    expect(doc).toMatchObject({
      kind: 'Config',
      'current-context': 'calico-context',
      users: [{ name: 'calico', user: { token: 'tok-123' } }],
      clusters: [{ name: 'local', cluster: { server: 'https://10.96.0.1:443', 'certificate-authority-data': Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64') } }],
    });
  });

  it('brackets an IPv6 API address and honours SKIP_TLS_VERIFY', () => {
    const api = apiServerFromEnv({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', SKIP_TLS_VERIFY: 'true' }, 't', 'ca');
    const doc = parse(renderKubeconfig(api!)) as { clusters: { cluster: Record<string, unknown> }[] };
    expect(doc.clusters[0].cluster).toEqual({ server: 'https://[fd00::1]:6443', 'insecure-skip-tls-verify': true });
  });
});

describe('one plugin executable, two names', () => {
  it('is the IPAM plugin when run as tortie-ipam or calico-ipam, else the main plugin', () => {
    expect(pluginFor('/opt/cni/bin/tortie-ipam')).toBe('tortie-ipam');
    expect(pluginFor('calico-ipam')).toBe('tortie-ipam');
    expect(pluginFor('/opt/cni/bin/tortie')).toBe('tortie');
    expect(pluginFor('/opt/cni/bin/calico')).toBe('tortie');
  });
});
