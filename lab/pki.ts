// A throw-away PKI made with openssl: a CA, certificates it signs, and the set a kube-apiserver
// needs (serving certificate, an admin client certificate in system:masters, ServiceAccount
// signing keys) with a kubeconfig for the admin. Used by the lab's Kubernetes datastore and by the
// test harnesses.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tool } from '../felix/dataplane/exec.js';

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface CertPair {
  cert: string;
  key: string;
}

export async function makeCa(dir: string, name: string): Promise<CertPair> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await tool('openssl', ['req', '-x509', ...KEY_ARGS, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

/** A key and certificate signed by `ca`; `subject` defaults to /CN=<name>. */
export async function issue(dir: string, ca: CertPair, name: string, ext: string, subject = `/CN=${name}`): Promise<CertPair> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  await tool('openssl', ['req', ...KEY_ARGS, '-keyout', key, '-out', csr, '-subj', subject]);
  await tool('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', extFile]);
  return { cert, key };
}

export interface KubePki {
  caFile: string;
  caKeyFile: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/** Everything kube-apiserver and its admin need; `serverIps` are the serving certificate's IP SANs. */
export async function makeKubePki(dir: string, serverIps: readonly string[]): Promise<KubePki> {
  const ca = await makeCa(dir, 'tortie-kube-ca');
  const sans = [...serverIps, '10.96.0.1'].map((ip) => `IP:${ip}`).join(',');
  const server = await issue(
    dir,
    ca,
    'kube-apiserver',
    `subjectAltName=${sans},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n` +
      'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
  );
  // Kubernetes takes the user from CN and the groups from O: system:masters bypasses RBAC.
  const admin = await issue(dir, ca, 'admin', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n', '/O=system:masters/CN=tortie-admin');
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  await tool('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
  await tool('openssl', ['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  return { caFile: ca.cert, caKeyFile: ca.key, serverCert: server.cert, serverKey: server.key, adminCert: admin.cert, adminKey: admin.key, saKey, saPub };
}

/** An admin kubeconfig for `server`, certificate files referenced by path. */
export function adminKubeconfig(server: string, pki: KubePki, cluster = 'tortie'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${cluster}`,
    `  cluster: {server: "${server}", certificate-authority: "${pki.caFile}"}`,
    'users:',
    '- name: tortie-admin',
    `  user: {client-certificate: "${pki.adminCert}", client-key: "${pki.adminKey}"}`,
    'contexts:',
    `- name: ${cluster}`,
    `  context: {cluster: ${cluster}, user: tortie-admin}`,
    `current-context: ${cluster}`,
    '',
  ].join('\n');
}

/** kube-apiserver's flags for this PKI (etcd, address and port are the caller's). */
export function apiserverPkiArgs(pki: KubePki, certDir: string, authorizationMode = 'Node,RBAC'): string[] {
  return [
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caFile}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--authorization-mode=${authorizationMode}`,
    // No controller-manager runs to create each namespace's default ServiceAccount.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--profiling=false',
  ];
}
