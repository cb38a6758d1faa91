// Shared by the CNI e2e tests: run a plugin binary inside the test's host namespace exactly as a
// runtime does (env + stdin → one JSON document on stdout), and start etcd in that namespace.
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { NetnsDaemon, waitFor } from '../harness/daemon.js';
import { entryArgv } from '../harness/entry.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import type { NetnsSet } from '../harness/netns.js';

export interface PluginRun {
  code: number;
  out: Record<string, unknown> | undefined;
  raw: string;
}

export function execPlugin(host: string, exe: string, env: Record<string, string>, stdin: Record<string, unknown> | string): Promise<PluginRun> {
  return new Promise((resolve) => {
    const child = execFile('ip', ['netns', 'exec', host, exe], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }, (err, stdout) => {
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        out = undefined;
      }
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, raw: stdout });
    });
    child.stdin?.end(typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  });
}

/** Executables in binDir that run the plugin sources (name → cni/<source>.ts). */
export function writePluginWrappers(binDir: string, plugins: Record<string, string>): void {
  for (const [name, src] of Object.entries(plugins)) {
    const p = join(binDir, name);
    // Compiled when `make test` built it (TORTIE_TEST_DIST=1), else the source through tsx.
    writeFileSync(p, `#!/bin/sh\nexec ${entryArgv(`cni/${src}`).join(' ')}\n`);
    chmodSync(p, 0o755);
  }
}

/** etcd on 127.0.0.1:2379 inside the namespace, waited for until healthy. */
export async function startEtcdIn(nets: NetnsSet, host: string): Promise<{ etcd: EtcdServer; etcdctl: (args: string[]) => Promise<string> }> {
  const etcd = await startEtcd({ netns: host });
  const etcdctl = (args: string[]): Promise<string> => nets.exec(host, ['etcdctl', '--endpoints=http://127.0.0.1:2379', ...args]).then((r) => r.stdout);
  for (let i = 0; ; i++) {
    if (await etcdctl(['endpoint', 'health']).then(() => true, () => false)) break;
    if (i > 100) {
      await etcd.stop();
      throw new Error('etcd in the host namespace did not become healthy');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { etcd, etcdctl };
}

/**
 * tortie-node in the namespace against the etcd there, with no routing backend, serving the CNI
 * plugins on `socket`; resolves once the socket is there. `env` adds to or overrides its variables.
 */
export async function startCniAgent(ns: string, socket: string, logFile: string, env: Record<string, string> = {}, entry = entryArgv('node/main')): Promise<NetnsDaemon> {
  const vars = {
    DATASTORE_TYPE: 'etcdv3',
    ETCD_ENDPOINTS: 'http://127.0.0.1:2379',
    IP: 'none',
    CALICO_NETWORKING_BACKEND: 'none',
    FELIX_PROMETHEUSMETRICSPORT: '0',
    TORTIE_CNI_SOCKET: socket,
    // Beside the socket, not the machine's /var/lib/calico: tests run side by side.
    TORTIE_MTU_FILE: join(dirname(socket), 'mtu'),
    ...env,
  };
  const agent = new NetnsDaemon(ns, ['env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...entry], logFile);
  agent.start();
  try {
    await waitFor("the agent's CNI socket", async () => (existsSync(socket) ? true : agent.running ? undefined : Promise.reject(new Error(`tortie-node exited; see ${logFile}`))), 120_000);
  } catch (e) {
    await agent.kill();
    throw e;
  }
  return agent;
}
