// A component's ServiceAccount, ClusterRole and binding from one of our manifests, applied to a test
// apiserver, and a kubeconfig with that account's token: the component runs with exactly the
// rights the manifest gives it (tests and benches alike).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeApiserver } from './kube.js';

const MANIFESTS = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'manifests');

export async function manifestAccount(kube: KubeApiserver, manifest: string, account = 'tortie-kube-controllers'): Promise<string> {
  const rbac = parseAllDocuments(readFileSync(join(MANIFESTS, manifest), 'utf8'))
    .map((d) => d.toJSON() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((d) => d?.metadata?.name === account && ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(d.kind ?? ''));
  if (rbac.length !== 3) throw new Error(`${manifest}: expected the ServiceAccount, ClusterRole and ClusterRoleBinding ${account}, found ${rbac.length}`);
  await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }) });
  return kube.accountKubeconfig(account);
}
