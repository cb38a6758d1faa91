// TLS with client-certificate auth against a real etcd, configured the ways users do it:
// the v3 CalicoAPIConfig file, the seed's v1 calicoApiConfig, and environment variables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { makeTestCerts, type TestCerts } from '../harness/tls.js';
import { configFromEnv, loadDatastoreConfig } from '../../datastore/config.js';
import { createBackend } from '../../datastore/backends/index.js';
import { DatastoreError } from '../../datastore/store.js';
import type { Backend } from '../../datastore/backends/kv.js';
import { WatchRecorder } from '../../datastore/backends/conformance.js';

describe('etcd over TLS with client certificates', () => {
  let certs: TestCerts;
  let otherCa: TestCerts;
  let etcd: EtcdServer;
  // Node warns once per process (DEP0123) when TLS is used with an IP as server name; users would
  // see it on every command. Collected over the whole file, checked by the last test.
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code ?? ''} ${w.message}`);

  beforeAll(async () => {
    process.on('warning', onWarning);
    certs = await makeTestCerts();
    otherCa = await makeTestCerts('some-other-ca');
    etcd = await startEtcd({ tls: { caFile: certs.caFile, certFile: certs.serverCertFile, keyFile: certs.serverKeyFile } });
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await etcd?.stop();
    certs?.cleanup();
    otherCa?.cleanup();
  });

  async function roundTrip(b: Backend, key: string): Promise<void> {
    try {
      const rec = new WatchRecorder();
      const start = await b.list(key);
      const w = b.watch(key, start.revision + 1, rec.handlers);
      const kv = await b.create(key, '{"tls":true}');
      expect((await b.get(key))?.value).toBe('{"tls":true}');
      await rec.until(() => rec.events.length === 1, 'watch event over TLS');
      expect(rec.events[0]).toEqual({ type: 'put', kv });
      await w.close();
    } finally {
      await b.close();
    }
  }

  it('v3 CalicoAPIConfig file with etcdCACertFile / etcdCertFile / etcdKeyFile', async () => {
    expect(etcd.endpoint).toMatch(/^https:\/\//);
    const file = join(certs.dir, 'tortiectl.cfg');
    writeFileSync(
      file,
      [
        'apiVersion: projectcalico.org/v3',
        'kind: CalicoAPIConfig',
        'metadata: {}',
        'spec:',
        '  datastoreType: etcdv3',
        `  etcdEndpoints: ${etcd.endpoint}`,
        `  etcdKeyFile: ${certs.clientKeyFile}`,
        `  etcdCertFile: ${certs.clientCertFile}`,
        `  etcdCACertFile: ${certs.caFile}`,
      ].join('\n'),
    );
    await roundTrip(createBackend(loadDatastoreConfig({ configFile: file, env: {} })), '/tls/v3cfg');
  });

  it("the seed's v1 calicoApiConfig, pasted with its non-breaking spaces and lost indentation", async () => {
    const file = join(certs.dir, 'calicoctl-v1.cfg');
    writeFileSync(
      file,
      [
        'apiVersion:\u00a0v1',
        'kind:\u00a0calicoApiConfig',
        'metadata:',
        'spec:',
        `etcdEndpoints:\u00a0${etcd.endpoint}`,
        `etcdKeyFile:\u00a0${certs.clientKeyFile}`,
        `etcdCertFile:\u00a0${certs.clientCertFile}`,
        `etcdCACertFile:\u00a0${certs.caFile}\u00a0`,
      ].join('\n'),
    );
    await roundTrip(createBackend(loadDatastoreConfig({ configFile: file, env: {} })), '/tls/v1cfg');
  });

  it("environment variables, with the seed's ETCD_CA_FILE alias", async () => {
    const cfg = configFromEnv({
      ETCD_ENDPOINTS: etcd.endpoint,
      ETCD_CA_FILE: certs.caFile,
      ETCD_CERT_FILE: certs.clientCertFile,
      ETCD_KEY_FILE: certs.clientKeyFile,
    });
    await roundTrip(createBackend(cfg), '/tls/env');
  });

  async function refused(b: Backend): Promise<DatastoreError> {
    try {
      const err = await b.get('/tls/x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DatastoreError);
      return err as DatastoreError;
    } finally {
      await b.close();
    }
  }

  it('without a client certificate the connection is refused: Unavailable naming the endpoint', async () => {
    const err = await refused(createBackend(configFromEnv({ ETCD_ENDPOINTS: etcd.endpoint, ETCD_CA_CERT_FILE: certs.caFile })));
    expect(err.code).toBe('Unavailable');
    expect(err.message).toContain(etcd.endpoint);
  });

  it('a server certificate from an unknown CA is refused', async () => {
    const err = await refused(
      createBackend(
        configFromEnv({
          ETCD_ENDPOINTS: etcd.endpoint,
          ETCD_CA_CERT_FILE: otherCa.caFile,
          ETCD_CERT_FILE: otherCa.clientCertFile,
          ETCD_KEY_FILE: otherCa.clientKeyFile,
        }),
      ),
    );
    expect(err.code).toBe('Unavailable');
    expect(err.message).toContain(etcd.endpoint);
  });

  it('connecting to an IP endpoint over TLS printed no deprecation warning', async () => {
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.startsWith('DEP0123'))).toEqual([]);
  });
});
