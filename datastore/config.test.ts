import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFromEnv, DatastoreConfigError, loadDatastoreConfig, parseConfigFile, type DatastoreConfig } from './config.js';
import { createBackend, createStore } from './backends/index.js';
import { KubernetesStore } from './backends/kubernetes/index.js';

const etcdOf = (c: DatastoreConfig) => {
  if (c.type !== 'etcdv3') throw new Error(`expected etcdv3, got ${c.type}`);
  return c.etcd;
};

function configError(fn: () => unknown): DatastoreConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatastoreConfigError);
    return err as DatastoreConfigError;
  }
  throw new Error('expected a DatastoreConfigError');
}

describe('environment', () => {
  it('defaults to etcdv3 on 127.0.0.1:2379', () => {
    const c = configFromEnv({});
    expect(c).toMatchObject({ type: 'etcdv3', source: 'environment', warnings: [] });
    expect(etcdOf(c)).toEqual({ endpoints: ['http://127.0.0.1:2379'] });
  });

  it("reads calicoctl's variables and the seed's ETCD_CA_FILE alias", () => {
    const c = configFromEnv({
      ETCD_ENDPOINTS: 'https://10.0.0.1:2379, https://10.0.0.2:2379,',
      ETCD_CA_FILE: '/etc/kubernetes/ssl/ca.pem',
      ETCD_CERT_FILE: '/etc/kubernetes/ssl/kubernetes.pem',
      ETCD_KEY_FILE: '/etc/kubernetes/ssl/kubernetes-key.pem',
    });
    expect(etcdOf(c)).toEqual({
      endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
      caCertFile: '/etc/kubernetes/ssl/ca.pem',
      certFile: '/etc/kubernetes/ssl/kubernetes.pem',
      keyFile: '/etc/kubernetes/ssl/kubernetes-key.pem',
    });
    // The official name wins over the alias.
    expect(etcdOf(configFromEnv({ ETCD_CA_CERT_FILE: '/a', ETCD_CA_FILE: '/b' })).caCertFile).toBe('/a');
  });

  it('adds a missing scheme (https with TLS files) and port, as the seed writes "https://{ETCD1}" without one', () => {
    expect(etcdOf(configFromEnv({ ETCD_ENDPOINTS: '10.0.0.1,[fd00::1]:12379' })).endpoints).toEqual(['http://10.0.0.1:2379', 'http://[fd00::1]:12379']);
    expect(etcdOf(configFromEnv({ ETCD_ENDPOINTS: 'etcd.local', ETCD_CA_CERT_FILE: '/ca' })).endpoints).toEqual(['https://etcd.local:2379']);
  });

  it('DATASTORE_TYPE=kubernetes with KUBECONFIG', () => {
    expect(configFromEnv({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: '/root/.kube/config' })).toEqual({
      type: 'kubernetes',
      kubeconfig: '/root/.kube/config',
      source: 'environment',
      warnings: [],
    });
  });

  it('errors name the variable', () => {
    const e1 = configError(() => configFromEnv({ DATASTORE_TYPE: 'consul' }));
    expect(e1.message).toMatch(/DATASTORE_TYPE: expected etcdv3 or kubernetes, got "consul"/);
    expect(e1.field).toBe('DATASTORE_TYPE');
    const e2 = configError(() => configFromEnv({ ETCD_ENDPOINTS: 'https://{ETCD1}:2379' }));
    expect(e2.message).toMatch(/ETCD_ENDPOINTS: .*placeholder \{ETCD1\}/);
    const e3 = configError(() => configFromEnv({ ETCD_ENDPOINTS: 'ftp://x:1' }));
    expect(e3.message).toMatch(/ETCD_ENDPOINTS: "ftp:\/\/x:1": scheme must be http or https/);
    const e4 = configError(() => configFromEnv({ ETCD_CERT_FILE: '/c' }));
    expect(e4.message).toMatch(/ETCD_KEY_FILE: .*missing/);
    const e5 = configError(() => configFromEnv({ ETCD_ENDPOINTS: 'http://h:2379/v2/keys' }));
    expect(e5.message).toMatch(/no path/);
    const e6 = configError(() => configFromEnv({ ETCD_ENDPOINTS: 'htp:/foo' }));
    expect(e6.message).toBe('ETCD_ENDPOINTS: "htp:/foo" is not a URL like http://HOST:2379 (scheme "htp:" without "//")');
  });

  it('reads an endpoint without a scheme as http, and says so', () => {
    const c = configFromEnv({ ETCD_ENDPOINTS: '127.0.0.1:2379,h' });
    expect(etcdOf(c).endpoints).toEqual(['http://127.0.0.1:2379', 'http://h:2379']);
    expect(c.warnings).toEqual(['ETCD_ENDPOINTS: "127.0.0.1:2379" has no scheme: read as http://127.0.0.1:2379', 'ETCD_ENDPOINTS: "h" has no scheme: read as http://h']);
  });

  it('warns when TLS files are set for plain-http endpoints', () => {
    const c = configFromEnv({ ETCD_ENDPOINTS: 'http://10.0.0.1:2379', ETCD_CA_CERT_FILE: '/ca' });
    expect(c.warnings.join()).toMatch(/plain http/);
  });
});

describe('config file', () => {
  it('v1 calicoApiConfig, as the seed writes it (non-breaking spaces, lost indentation)', () => {
    // Verbatim shape of the tutorial: U+00A0 after the colons, spec fields not indented.
    const seed = [
      'apiVersion:\u00a0v1',
      'kind:\u00a0calicoApiConfig',
      'metadata:',
      'spec:',
      'etcdEndpoints:\u00a0https://10.1.1.1:2379',
      'etcdKeyFile:\u00a0/etc/kubernetes/ssl/kubernetes-key.pem',
      'etcdCertFile:\u00a0/etc/kubernetes/ssl/kubernetes.pem',
      'etcdCACertFile:\u00a0/etc/kubernetes/ssl/ca.pem\u00a0',
      '',
    ].join('\n');
    const c = parseConfigFile(seed, '/etc/tortie/tortiectl.cfg');
    expect(etcdOf(c)).toEqual({
      endpoints: ['https://10.1.1.1:2379'],
      keyFile: '/etc/kubernetes/ssl/kubernetes-key.pem',
      certFile: '/etc/kubernetes/ssl/kubernetes.pem',
      caCertFile: '/etc/kubernetes/ssl/ca.pem',
    });
    expect(c.warnings.join()).toMatch(/should be indented under spec/);
  });

  it('v1 calicoApiConfig, properly indented, with datastoreType etcdv2 (read as v3, with a warning)', () => {
    const c = parseConfigFile(
      'apiVersion: v1\nkind: calicoApiConfig\nmetadata:\nspec:\n  datastoreType: etcdv2\n  etcdEndpoints: http://a:2379,http://b:2379\n',
      'f.cfg',
    );
    expect(etcdOf(c).endpoints).toEqual(['http://a:2379', 'http://b:2379']);
    expect(c.warnings.join()).toMatch(/f\.cfg: spec\.datastoreType: etcdv2 read as etcdv3/);
  });

  it('v3 CalicoAPIConfig', () => {
    const c = parseConfigFile(
      [
        'apiVersion: projectcalico.org/v3',
        'kind: CalicoAPIConfig',
        'metadata: {}',
        'spec:',
        '  datastoreType: etcdv3',
        '  etcdEndpoints: https://127.0.0.1:2379',
        '  etcdKeyFile: /k',
        '  etcdCertFile: /c',
        '  etcdCACertFile: /ca',
      ].join('\n'),
      'v3.cfg',
    );
    expect(c).toEqual({
      type: 'etcdv3',
      etcd: { endpoints: ['https://127.0.0.1:2379'], keyFile: '/k', certFile: '/c', caCertFile: '/ca' },
      source: 'v3.cfg',
      warnings: [],
    });
    const k = parseConfigFile('apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: kubernetes\n  kubeconfig: /kc\n', 'k.cfg');
    expect(k).toMatchObject({ type: 'kubernetes', kubeconfig: '/kc' });
  });

  it('errors name the file and the field', () => {
    const bad = (text: string) => configError(() => parseConfigFile(text, '/etc/tortie/tortiectl.cfg')).message;
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdEndpoint: http://a:1\n')).toMatch(
      /^\/etc\/tortie\/tortiectl\.cfg: spec\.etcdEndpoint: unknown field/,
    );
    expect(bad('apiVersion: v1\nkind: CalicoAPIConfig\n')).toMatch(/tortiectl\.cfg: kind: expected calicoApiConfig/);
    expect(bad('apiVersion: v2\nkind: calicoApiConfig\n')).toMatch(/tortiectl\.cfg: apiVersion: expected v1 or projectcalico\.org\/v3, got "v2"/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  datastoreType: mysql\n')).toMatch(/tortiectl\.cfg: spec\.datastoreType: expected etcdv3 or kubernetes/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdEndpoints: https://{ETCD}:2379\n')).toMatch(
      /tortiectl\.cfg: spec\.etcdEndpoints: .*placeholder \{ETCD\}/,
    );
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdEndpoints: [a, b]\n')).toMatch(/spec\.etcdEndpoints: expected a string, got a list/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec: [1]\n')).toMatch(/spec: expected a mapping/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdCertFile: /c\n')).toMatch(/spec\.etcdKeyFile: .*missing/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nfoo: 1\n')).toMatch(/tortiectl\.cfg: unknown field foo/);
    expect(bad('apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdEndpoints: http://a:1\netcdKeyFile: /k\n')).toMatch(/etcdKeyFile: belongs under spec/);
    expect(bad('- a\n- b\n')).toMatch(/expected a mapping with apiVersion/);
    expect(bad('apiVersion: v1\nkind: [calicoApiConfig\n')).toMatch(/tortiectl\.cfg: broken YAML at line \d+, column \d+/);
  });
});

describe('loadDatastoreConfig and createBackend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses an explicit --config file, ignoring the environment', () => {
    const f = join(dir, 'a.cfg');
    writeFileSync(f, 'apiVersion: v1\nkind: calicoApiConfig\nspec:\n  etcdEndpoints: http://10.9.9.9:2379\n');
    const c = loadDatastoreConfig({ configFile: f, env: { ETCD_ENDPOINTS: 'http://1.1.1.1:2379' } });
    expect(etcdOf(c).endpoints).toEqual(['http://10.9.9.9:2379']);
    expect(c.source).toBe(f);
  });

  it('an explicit --config that does not exist is an error naming it', () => {
    const f = join(dir, 'nope.cfg');
    expect(() => loadDatastoreConfig({ configFile: f, env: {} })).toThrow(`config file ${f}: no such file`);
  });

  it('without --config and without the default file, the environment is used', () => {
    // The default path does not exist on a test machine; if it does, this test says nothing.
    const c = loadDatastoreConfig({ env: { ETCD_ENDPOINTS: 'http://10.2.2.2:2379' } });
    if (c.source === 'environment') expect(etcdOf(c).endpoints).toEqual(['http://10.2.2.2:2379']);
  });

  it('DATASTORE_TYPE=kubernetes makes the Kubernetes store from KUBECONFIG, and a missing file is named', async () => {
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    await expect(createStore(configFromEnv({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: kc }))).resolves.toBeInstanceOf(KubernetesStore);
    await expect(createStore(configFromEnv({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: '/tmp/no-such-kc.yaml' }))).rejects.toThrow('kubeconfig /tmp/no-such-kc.yaml: no such file (KUBECONFIG)');
  });

  it('a component that still needs the etcd key/value layer says so on kubernetes, naming the kubeconfig', () => {
    expect(() => createBackend(configFromEnv({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: '/tmp/kc.yaml' }))).toThrow(/needs the etcd datastore .*\(kubeconfig \/tmp\/kc.yaml\)/);
  });

  it('a missing TLS file is reported with the field that named it', () => {
    const c = parseConfigFile(
      `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  etcdEndpoints: https://127.0.0.1:2379\n  etcdCACertFile: ${join(dir, 'missing-ca.pem')}\n`,
      'x.cfg',
    );
    expect(() => createBackend(c)).toThrow(`x.cfg: etcdCACertFile ${join(dir, 'missing-ca.pem')}: no such file`);
  });
});
