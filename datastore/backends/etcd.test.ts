// Pure parts of the etcd backend (the rest runs against a real etcd in test/integration).
import { describe, expect, it } from 'vitest';
import { callTimeoutFromEnv, EtcdBackend, explainConnectError, prefixEnd } from './etcd.js';

describe('prefixEnd', () => {
  it('is the first key after every key with the prefix', () => {
    expect(prefixEnd('/calico/').toString()).toBe('/calico0');
    expect(prefixEnd('a')).toEqual(Buffer.from('b'));
    expect(prefixEnd('a\u00ff')).toEqual(Buffer.from([0x61, 0xc3, 0xc0])); // UTF-8 bytes: last byte bumped
    expect(prefixEnd('')).toEqual(Buffer.from([0]));
  });
});

describe('callTimeoutFromEnv', () => {
  it('reads TORTIE_ETCD_CALL_TIMEOUT_MS (unset: the 4 s default applies) and refuses a bad value by name', () => {
    expect(callTimeoutFromEnv({})).toBeUndefined();
    expect(callTimeoutFromEnv({ TORTIE_ETCD_CALL_TIMEOUT_MS: ' ' })).toBeUndefined();
    expect(callTimeoutFromEnv({ TORTIE_ETCD_CALL_TIMEOUT_MS: '40000' })).toBe(40_000);
    for (const bad of ['0', '-5', '1.5', 'slow']) expect(() => callTimeoutFromEnv({ TORTIE_ETCD_CALL_TIMEOUT_MS: bad })).toThrow(/TORTIE_ETCD_CALL_TIMEOUT_MS must be a positive whole number/);
  });
});

describe('explainConnectError', () => {
  it('turns gRPC/OpenSSL noise into a cause a person can act on', () => {
    expect(
      explainConnectError(
        '14 UNAVAILABLE: No connection established. Last error: 80BC6FAF577F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-11-22T07:06:21.302Z)',
      ),
    ).toMatch(/^TLS handshake refused by etcd: it requires a client certificate/);
    expect(explainConnectError('14 UNAVAILABLE: No connection established. unable to verify the first certificate')).toMatch(/not signed by the CA/);
    expect(explainConnectError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ')).toBe(
      'connection refused (nothing listens there)',
    );
    expect(explainConnectError('14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-11-22T07:06:21.679Z)')).toBe(
      'No connection established. Failed to connect',
    );
  });
});

describe('EtcdBackend construction', () => {
  it('refuses malformed endpoints before connecting', () => {
    expect(() => new EtcdBackend({ endpoints: ['127.0.0.1:2379'] })).toThrow(/must look like http/);
    expect(() => new EtcdBackend({ endpoints: [] })).toThrow(/no etcd endpoints/);
    expect(() => new EtcdBackend({ endpoints: ['http://a:1', 'https://b:2'] })).toThrow(/mix http and https/);
  });
});
