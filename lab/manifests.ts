// The repository's manifests/, which the lab runs tortie-node and tortie-rr from (container mode)
// and takes tortie-node's readiness probe and tortie-controllers' environment from (both modes).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { podTemplate, resolveEnv } from './manifest-pod.js';

// lab/ from the source tree, dist/lab/ when built: manifests/ is at the repository root either way.
const DIRS = [new URL('../manifests/', import.meta.url), new URL('../../manifests/', import.meta.url)].map((u) => fileURLToPath(u));

/** The path of manifests/FILE. */
export function manifestPath(file: string): string {
  const dir = DIRS.find((d) => existsSync(join(d, file)));
  if (!dir) throw new Error(`manifests/${file} not found (looked in ${DIRS.join(', ')})`);
  return join(dir, file);
}

export function readManifest(file: string): string {
  return readFileSync(manifestPath(file), 'utf8');
}

/** tortie-node's readinessProbe (manifests/tortie-etcd.yaml) as a URL inside the host's namespace. */
export function readinessUrl(): string {
  const probe = podTemplate(readManifest('tortie-etcd.yaml'), 'DaemonSet', 'tortie-node').containers[0]?.readinessProbe?.httpGet;
  if (!probe) throw new Error('manifests/tortie-etcd.yaml: tortie-node has no readinessProbe.httpGet');
  return `http://${probe.host ?? '127.0.0.1'}:${probe.port}${probe.path}`;
}

/** tortie-kube-controllers' environment as manifests/tortie.yaml's Deployment sets it (no ConfigMap or field references there). */
export function controllersEnv(): Record<string, string> {
  const main = podTemplate(readManifest('tortie.yaml'), 'Deployment', 'tortie-kube-controllers').containers[0];
  if (!main) throw new Error('manifests/tortie.yaml: tortie-kube-controllers has no container');
  return resolveEnv(main, {}, {});
}
