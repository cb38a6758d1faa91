// Starts a private etcd (Debian's etcd-server) on free loopback ports in a temp dir.
// Used by integration tests and by `make demo`; every process and directory it makes is removed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './ports.js';

export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdOptions {
  /** Serve clients over TLS and require client certificates signed by caFile. */
  tls?: EtcdTlsFiles;
  /** Keep revisions history small to make compaction tests quick. */
  extraArgs?: string[];
  /** Bind address, default 127.0.0.1 (the lab passes a namespace address). */
  host?: string;
  /** Run inside `ip netns exec NAME`. */
  netns?: string;
}

export interface EtcdServer {
  endpoint: string;
  clientPort: number;
  dataDir: string;
  /** Stop the process but keep the data dir: start() brings the same store back on the same port. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  /** Stop and remove everything. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<EtcdServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) {
      try {
        (s as unknown as { pidKill(): void }).pidKill();
      } catch {
        /* best effort on exit */
      }
    }
  });
}

function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const sock = connect({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`etcd did not listen on ${host}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  installExitHook();
  const host = opts.host ?? '127.0.0.1';
  const dataDir = mkdtempSync(join(tmpdir(), 'tortie-etcd-'));
  const clientPort = opts.netns ? 2379 : await freePort(host);
  const peerPort = opts.netns ? 2380 : await freePort(host);
  const scheme = opts.tls ? 'https' : 'http';
  const endpoint = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${clientPort}`;
  const args = [
    '--name', 'tortie-test',
    '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://${host.includes(':') ? `[${host}]` : host}:${peerPort}`,
    '--initial-advertise-peer-urls', `http://${host.includes(':') ? `[${host}]` : host}:${peerPort}`,
    '--initial-cluster', `tortie-test=http://${host.includes(':') ? `[${host}]` : host}:${peerPort}`,
    '--log-level', 'error',
    '--logger', 'zap',
    ...(opts.tls
      ? ['--cert-file', opts.tls.certFile, '--key-file', opts.tls.keyFile, '--trusted-ca-file', opts.tls.caFile, '--client-cert-auth']
      : []),
    ...(opts.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  const logFile = join(dataDir, 'etcd.log');
  writeFileSync(logFile, '');

  const server: EtcdServer & { pidKill(): void } = {
    endpoint,
    clientPort,
    dataDir,
    pidKill() {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    },
    async start() {
      const cmd = opts.netns ? 'ip' : 'etcd';
      const cmdArgs = opts.netns ? ['netns', 'exec', opts.netns, 'etcd', ...args] : args;
      const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      let stderr = '';
      proc.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      const exited = new Promise<never>((_, reject) => {
        proc.once('exit', (code) => reject(new Error(`etcd exited early (code ${code}): ${stderr}`)));
      });
      const probeHost = host;
      if (!opts.netns) await Promise.race([waitForPort(probeHost, clientPort, 15_000), exited]);
      proc.removeAllListeners('exit');
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill(signal);
      });
    },
    async stop() {
      await server.kill('SIGKILL');
      live.delete(server);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  live.add(server);
  try {
    await server.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
