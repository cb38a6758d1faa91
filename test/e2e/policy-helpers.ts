// Shared by the policy e2e files: a lab with pods in labelled namespaces, TCP and UDP listeners and
// probes by real packets (nc, ping), tortiectl against the lab's datastore, and iptables-save snapshots per node so a
// test can say exactly which chains a change rewrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireState, saveState } from '../../lab/state.js';
import { addNamespace, addPod, type PodSpec } from '../../lab/topology.js';
import { entryArgv } from '../harness/entry.js';
import { run } from '../harness/exec.js';
import type { TestLab } from './lab-helpers.js';

export interface Pod {
  name: string;
  namespace: string;
  node: string;
  ns: string;
  ip: string;
  /** In a lab with IPv6 (`up --dual-stack`). */
  ip6?: string;
}

export interface LabInfo {
  etcdEndpoint: string;
  /** A lab on the Kubernetes datastore: its admin kubeconfig. */
  kube?: { kubeconfig: string };
  nodes: { name: string; ns: string; ip: string }[];
  pods: Pod[];
}

export function labInfo(lab: TestLab): LabInfo {
  const s = JSON.parse(readFileSync(join(lab.stateDir, 'state.json'), 'utf8')) as LabInfo;
  return { etcdEndpoint: s.etcdEndpoint, nodes: s.nodes, pods: s.pods, ...(s.kube ? { kube: s.kube } : {}) };
}

/** `tortie-lab ns add` and `pod add` for many at once, in this process (each CLI call costs a
 *  process start): namespaces in parallel, pods in parallel across hosts, in order on each. */
export async function populate(lab: TestLab, namespaces: Record<string, Record<string, string>>, specs: readonly PodSpec[]): Promise<void> {
  const saved = { prefix: process.env.TORTIE_LAB_PREFIX, state: process.env.TORTIE_LAB_STATE };
  process.env.TORTIE_LAB_PREFIX = lab.prefix;
  process.env.TORTIE_LAB_STATE = lab.stateDir;
  try {
    const s = requireState();
    await Promise.all(Object.entries(namespaces).map(([n, l]) => addNamespace(s, n, l)));
    const byNode = new Map<string, PodSpec[]>();
    for (const p of specs) byNode.set(p.node ?? '', [...(byNode.get(p.node ?? '') ?? []), p]);
    await Promise.all(
      [...byNode.values()].map(async (list) => {
        for (const p of list) await addPod(s, p, false);
      }),
    );
    saveState(s);
  } finally {
    for (const [k, v] of [['TORTIE_LAB_PREFIX', saved.prefix], ['TORTIE_LAB_STATE', saved.state]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** tortiectl (compiled under `make test`, else from source) inside a host namespace, where the lab's etcd is reachable. */
export async function ctl(lab: TestLab, args: string[], input?: string): Promise<string> {
  const info = labInfo(lab);
  const host = info.nodes[0]?.ns ?? '';
  const datastore = info.kube ? ['DATASTORE_TYPE=kubernetes', `KUBECONFIG=${info.kube.kubeconfig}`] : ['DATASTORE_TYPE=etcdv3', `ETCD_ENDPOINTS=${info.etcdEndpoint}`];
  const argv = ['netns', 'exec', host, 'env', ...datastore, ...entryArgv('ctl/main'), ...args];
  return (await run('ip', argv, input === undefined ? {} : { input })).stdout;
}

/** Long-running processes (listeners, clients) started by a test; all killed by stopAll(). */
export class Procs {
  private readonly list: ChildProcess[] = [];

  start(ns: string, argv: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'ignore'] });
    c.on('error', () => undefined);
    this.list.push(c);
    return c;
  }

  /** `nc -lk PORT` (TCP) in a namespace: accepts any number of connections one after another.
   *  nc listens on IPv4 only: `ipv6` adds an `nc -6` listener beside it. */
  listen(ns: string, ports: readonly number[], opts: { ipv6?: boolean } = {}): void {
    for (const p of ports) {
      this.start(ns, ['nc', '-lk', String(p)]);
      if (opts.ipv6) this.start(ns, ['nc', '-6', '-lk', String(p)]);
    }
  }

  /**
   * `nc -luk PORT` (UDP) in a namespace: with -k the socket is not connected to the first sender,
   * so every datagram from any source arrives and is written to stdout; each line is recorded in
   * `sink` as seen at this namespace and port (a UDP probe has no handshake to wait for).
   */
  listenUdp(ns: string, ports: readonly number[], sink: UdpSink, opts: { ipv6?: boolean } = {}): void {
    for (const p of ports) {
      for (const family of opts.ipv6 ? [[], ['-6']] : [[]]) {
        let partial = '';
        this.start(ns, ['nc', ...family, '-luk', String(p)]).stdout?.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) sink.seen.add(`${ns} ${p} ${l}`);
        });
      }
    }
  }

  stopAll(): void {
    for (const c of this.list.splice(0)) c.kill('SIGKILL');
  }
}

/** Datagram lines the UDP listeners received, as "ns port line". */
export class UdpSink {
  readonly seen = new Set<string>();
  private seq = 0;

  /**
   * Sends one datagram carrying a fresh token from `ns` to ip:port (a new source port each time,
   * so a new conntrack flow) and says whether the listener in `toNs` received it within 1 s.
   */
  async probe(ns: string, toNs: string, ip: string, port: number): Promise<boolean> {
    const token = `probe-${process.pid}-${++this.seq}`;
    const key = `${toNs} ${port} ${token}`;
    try {
      await run('ip', ['netns', 'exec', ns, 'bash', '-c', `printf '%s\\n' "$1" > /dev/udp/${ip}/${port}`, 'udp-probe', token]);
    } catch {
      return false;
    }
    const deadline = Date.now() + 1000;
    while (!this.seen.has(key)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.seen.delete(key);
    return true;
  }
}

/** Does a TCP handshake from `ns` to ip:port complete within 1 s? (optionally from a given source) */
export function tcp(ns: string, ip: string, port: number, src?: string): Promise<boolean> {
  const argv = ['netns', 'exec', ns, 'nc', '-z', '-w', '1', ...(src ? ['-s', src] : []), ip, String(port)];
  return run('ip', argv).then(
    () => true,
    () => false,
  );
}

export function ping(ns: string, ip: string): Promise<boolean> {
  return run('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', ip]).then(
    () => true,
    () => false,
  );
}

export interface Probe {
  label: string;
  want: boolean;
  probe: () => Promise<boolean>;
}

/** Runs probes with bounded concurrency (2 cores, many 1 s timeouts). */
async function runAll(probes: readonly Probe[], width = 8): Promise<boolean[]> {
  const out: boolean[] = new Array<boolean>(probes.length).fill(false);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < probes.length) {
      const i = next++;
      out[i] = await (probes[i] as Probe).probe();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, probes.length) }, worker));
  return out;
}

/** Polls until every probe gives its wanted verdict (policy reaches the kernel asynchronously);
 *  returns the mismatches still seen at the deadline, as readable lines (empty = all agree). */
export async function verdicts(grouped: ReadonlyArray<Probe | readonly Probe[]>, timeoutMs = 20_000): Promise<string[]> {
  // A group: the same connection in each address family.
  const probes = grouped.flat();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await runAll(probes);
    const bad = probes.filter((p, i) => got[i] !== p.want).map((p) => `${p.label}: want ${p.want ? 'open' : 'blocked'}, got ${p.want ? 'blocked' : 'open'}`);
    if (!bad.length || Date.now() > deadline) return bad;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Our chains on a host, name → rule lines (counters and save timestamps dropped). */
export async function ourChains(hostNs: string, family: 4 | 6 = 4): Promise<Map<string, string>> {
  const text = (await run('ip', ['netns', 'exec', hostNs, family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter'])).stdout;
  const m = new Map<string, string[]>();
  for (const l of text.split('\n')) {
    if (l.startsWith(':cali-')) m.set(l.slice(1).split(' ')[0] ?? '', []);
    else if (l.startsWith('-A ')) {
      const chain = l.split(' ')[1] ?? '';
      if (chain.startsWith('cali-') || l.includes(' cali-')) (m.get(chain) ?? m.set(chain, []).get(chain))?.push(l);
    }
  }
  return new Map([...m].map(([k, v]) => [k, v.join('\n')]));
}

/** Names of chains added, removed or rewritten between two snapshots. */
export function changedChains(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => a.get(n) !== b.get(n)).sort();
}
