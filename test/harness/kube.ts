// Starts a real kube-apiserver on loopback for tests and the lab: its own etcd (test/harness/etcd.ts),
// a throw-away PKI made with openssl (serving cert, an admin client cert in system:masters,
// ServiceAccount signing keys), Node and RBAC authorization, and a kubeconfig for the admin. Binaries come from
// test/k8s/build.sh (built once per machine). Every process and directory is removed by stop(),
// also when startup fails, and the processes are killed when the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdServer } from './etcd.js';
import { run, type RunResult } from './exec.js';
import { freePort } from './ports.js';
import { adminKubeconfig, apiserverPkiArgs, makeKubePki, type KubePki } from '../../lab/pki.js';

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'k8s', 'build.sh');

export interface KubeApiserver {
  /** https://127.0.0.1:<port> */
  server: string;
  /** An admin (system:masters) kubeconfig; certificate files referenced by path. */
  kubeconfig: string;
  /** Where the certificates, keys, kubeconfig and the apiserver's log live (removed by stop()). */
  dir: string;
  caFile: string;
  etcd: EtcdServer;
  /** Runs the matching kubectl against this apiserver; rejects with kubectl's stderr on failure. */
  kubectl(args: string[], opts?: { input?: string }): Promise<RunResult>;
  /** kubectl as the user of another kubeconfig (e.g. one from accountKubeconfig()). */
  kubectlAs(kubeconfig: string, args: string[], opts?: { input?: string }): Promise<RunResult>;
  /**
   * A kubeconfig (file in dir) that authenticates as a ServiceAccount with a fresh token
   * (`kubectl create token`), the way a pod's mounted token does: that account's RBAC applies.
   */
  accountKubeconfig(account: string, namespace?: string): Promise<string>;
  /** Stops the apiserver only (etcd and the PKI stay): start() brings it back on the same port. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again after kill() and waits for /readyz. */
  start(): Promise<void>;
  /** Stops everything and removes every file. Safe to call twice. */
  stop(): Promise<void>;
}

export interface KubeApiserverOptions {
  /** Time to wait for /readyz, default 120 s (the first start on a loaded 2-core machine is slow). */
  readyTimeoutMs?: number;
  /** --authorization-mode, default "Node,RBAC" as on a kubeadm cluster (system:masters bypasses both). */
  authorizationMode?: string;
}

/** Directory holding kube-apiserver and kubectl, building them first if this machine has none. */
export async function k8sBinDir(): Promise<string> {
  const { stdout } = await run(BUILD_SCRIPT, [], { timeout: 30 * 60_000 });
  return stdout.trim().split('\n').pop() ?? '';
}

const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
// A test process that dies without stop() (a crash, an uncaught error) still leaves nothing behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

/** Resolves when GET /readyz answers 200 with the admin certificate; rejects after timeoutMs. */
function waitReady(port: number, pki: KubePki, timeoutMs: number, exited: Promise<never>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const tls = { ca: readFileSync(pki.caFile), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) };
  let last = 'no answer';
  const probe = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/readyz', method: 'GET', timeout: 2000, ...tls }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          last = `HTTP ${res.statusCode}: ${body.slice(-300)}`;
          resolve(res.statusCode === 200);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        last = e.message;
        resolve(false);
      });
      req.end();
    });
  const loop = async (): Promise<void> => {
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`kube-apiserver on 127.0.0.1:${port} not ready within ${timeoutMs} ms (last: ${last})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  return Promise.race([loop(), exited]);
}

export async function startKubeApiserver(opts: KubeApiserverOptions = {}): Promise<KubeApiserver> {
  installExitHook();
  const binDir = await k8sBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'tortie-kube-'));
  liveDirs.add(dir);
  let etcd: EtcdServer | undefined;
  let child: ChildProcess | undefined;
  const logFile = join(dir, 'kube-apiserver.log');

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
    live.delete(proc);
  };
  const stop = async (): Promise<void> => {
    await kill();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  try {
    const pki = await makeKubePki(dir, ['127.0.0.1']);
    etcd = await startEtcd();
    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, adminKubeconfig(server, pki, 'tortie-test'));
    const args = [
      `--etcd-servers=${etcd.endpoint}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      ...apiserverPkiArgs(pki, join(dir, 'certs'), opts.authorizationMode),
    ];
    const start = async (): Promise<void> => {
      const out = openSync(logFile, 'a');
      const proc = spawn(join(binDir, 'kube-apiserver'), args, { stdio: ['ignore', out, out] });
      closeSync(out);
      child = proc;
      live.add(proc);
      const exited = new Promise<never>((_, reject) => {
        proc.once('exit', (code, sig) => {
          live.delete(proc);
          let tail = '';
          try {
            tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
          } catch {
            /* removed already */
          }
          reject(new Error(`kube-apiserver exited early (${sig ?? `code ${code}`}):\n${tail}`));
        });
      });
      exited.catch(() => undefined);
      await waitReady(port, pki, opts.readyTimeoutMs ?? 120_000, exited);
    };
    await start();
    const kubectlAs = (config: string, kargs: string[], o: { input?: string } = {}): Promise<RunResult> =>
      run(join(binDir, 'kubectl'), ['--kubeconfig', config, ...kargs], { ...(o.input !== undefined ? { input: o.input } : {}), timeout: 60_000 });
    const kubectl = (kargs: string[], o: { input?: string } = {}): Promise<RunResult> => kubectlAs(kubeconfig, kargs, o);
    const accountKubeconfig = async (account: string, namespace = 'kube-system'): Promise<string> => {
      const token = (await kubectl(['create', 'token', account, '-n', namespace, '--duration=1h'])).stdout.trim();
      const file = join(dir, `${namespace}.${account}.kubeconfig`);
      const kc = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, 'certificate-authority': pki.caFile } }],
        users: [{ name: account, user: { token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: account } }],
        'current-context': 'x',
      };
      writeFileSync(file, JSON.stringify(kc));
      return file;
    };
    return { server, kubeconfig, dir, caFile: pki.caFile, etcd, kubectl, kubectlAs, accountKubeconfig, kill, start, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
