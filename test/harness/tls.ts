// Makes a throw-away PKI with openssl for TLS tests: a CA, a server certificate for 127.0.0.1 and a
// client certificate, in a temp dir that cleanup() removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, makeCa } from '../../lab/pki.js';

export { issue, makeCa };

export interface TestCerts {
  dir: string;
  caFile: string;
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  cleanup(): void;
}

/** CA + server cert (IP SAN 127.0.0.1, DNS localhost) + client cert, all signed by the CA. */
export async function makeTestCerts(caName = 'tortie-test-ca'): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-tls-'));
  try {
    const ca = await makeCa(dir, caName);
    const server = await issue(dir, ca, 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    const client = await issue(dir, ca, 'client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    return {
      dir,
      caFile: ca.cert,
      caKeyFile: ca.key,
      serverCertFile: server.cert,
      serverKeyFile: server.key,
      clientCertFile: client.cert,
      clientKeyFile: client.key,
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
