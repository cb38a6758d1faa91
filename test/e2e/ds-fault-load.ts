// Continuous load and observation for the datastore-fault tests, all from outside the agents:
// every pod pinging every other (ping's own sent/received counts), a pod churn through the real
// CNI plugin as a kubelet drives it, and snapshots of each node's kernel state and BGP sessions.
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryArgv, ROOT } from '../harness/entry.js';
import { run } from '../harness/exec.js';
import { pool } from '../../lab/ping.js';
import { eventually, type TestLab } from './lab-helpers.js';
import type { LabNode, LabState } from '../../lab/state.js';

type CniModule = typeof import('../../lab/cni.js');

/** The lab's CNI driver, compiled when `make test` built (the plugin then runs from bin/, no tsx start-up). */
async function cniModule(): Promise<CniModule> {
  const dist = join(ROOT, 'dist/lab/cni.js');
  if (process.env.TORTIE_TEST_DIST === '1' && existsSync(dist)) return (await import(dist)) as CniModule;
  return import('../../lab/cni.js');
}

export const labState = (stateDir: string): LabState => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LabState;

export interface PairCount {
  from: string;
  to: string;
  sent: number;
  received: number;
}

/** One `ping -i 0.2` per ordered pod pair; stop() ends them with SIGINT and reads their summaries. */
export function startPingers(s: LabState): { stop(): Promise<PairCount[]> } {
  const runs = s.pods.flatMap((a) =>
    s.pods
      .filter((b) => b !== a)
      .map((b) => {
        const child = spawn('ip', ['netns', 'exec', a.ns, 'ping', '-i', '0.2', '-W', '1', '-q', b.ip], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const done = new Promise<PairCount>((resolve) =>
          child.once('close', () => {
            const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
            resolve({ from: a.name, to: b.name, sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) });
          }),
        );
        return { child, done };
      }),
  );
  return {
    async stop() {
      for (const r of runs) r.child.kill('SIGINT');
      return Promise.all(runs.map((r) => r.done));
    },
  };
}

interface ChurnPod {
  name: string;
  /** The Pod's uid, on the Kubernetes datastore. */
  uid?: string;
  namespace: string;
  ns: string;
  containerId: string;
  node: LabNode;
  labels: Record<string, string>;
  ip?: string;
  iface?: string;
}

export interface ChurnFigures {
  addsTried: number;
  addsOk: number;
  /** Each failed ADD's error, as the runtime got it from the plugin. */
  addErrors: string[];
  delsTried: number;
  delErrors: string[];
}

/**
 * Where the churn's pods come from on the Kubernetes datastore: a kubelet only runs a Pod the API
 * gave it (bound to its node) before the outage, so the Pods are created beforehand and handed out.
 * undefined: none left for that node (the tick starts nothing).
 */
export interface ChurnPodSource {
  take(node: LabNode): { name: string; uid: string } | undefined;
}

/**
 * About two ADDs and two DELs a second over `nodes()` (called per ADD, so a scenario can leave a
 * node out): each tick starts an ADD of a new pod or a DEL of the oldest, at most `width` in flight.
 * A pod whose ADD failed is kept, as a kubelet keeps the sandbox, for retry() after recovery.
 */
export async function startChurn(s: LabState, tag: string, nodes: () => LabNode[], width = 4, source?: ChurnPodSource): Promise<Churn> {
  const cni = await cniModule();
  return new Churn(cni, s, tag, nodes, width, source);
}

export class Churn {
  readonly figures: ChurnFigures = { addsTried: 0, addsOk: 0, addErrors: [], delsTried: 0, delErrors: [] };
  readonly live: ChurnPod[] = [];
  readonly failed: ChurnPod[] = [];
  /** Every address a churn ADD was given, in order (a duplicate here is an IP handed out twice). */
  readonly handedOut: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private addNext = true;
  /** Nodes whose given Pods ran out (an ADD there can no longer be tried). */
  readonly ranDry = new Set<string>();

  constructor(
    private readonly cni: CniModule,
    private readonly s: LabState,
    private readonly tag: string,
    private readonly nodes: () => LabNode[],
    private readonly width: number,
    private readonly source?: ChurnPodSource,
  ) {
    this.timer = setInterval(() => this.tick(), 250);
  }

  /** Host interfaces of every churn pod that came up. */
  readonly ifaces: string[] = [];

  /** Interfaces and addresses of every churn pod ever up, to leave out of kernel snapshots (call after stop()). */
  churnMarks(): string[] {
    return [...this.ifaces, ...this.handedOut];
  }

  private tick(): void {
    if (this.inFlight.size >= this.width) return;
    const adding = this.addNext;
    this.addNext = !this.addNext;
    // A DEL's turn with no live pod is skipped, not made an ADD: while the datastore is away every
    // ADD fails at once, and the churn stays at about two ADDs a second (and within its Pods).
    if (!adding && this.live.length === 0) return;
    const op = adding ? this.add().then(() => undefined) : this.del();
    const p = op.finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** One ADD of a new pod (on `on`, or the next node in turn); true when it came up. */
  async add(on?: LabNode): Promise<boolean> {
    const nodes = this.nodes();
    const n = ++this.seq;
    const node = on ?? nodes[(n - 1) % nodes.length];
    if (!node) return false;
    const given = this.source?.take(node);
    if (this.source && !given) {
      this.ranDry.add(node.name);
      return false;
    }
    const p: ChurnPod = { name: given?.name ?? `churn-${this.tag}-${n}`, ...(given ? { uid: given.uid } : {}), namespace: 'default', ns: `${this.s.prefix}c${this.tag}${n}`, containerId: this.cni.newContainerId(), node, labels: {} };
    await run('ip', ['netns', 'add', p.ns]);
    this.figures.addsTried++;
    try {
      // One plugin run per attempt: the churn retries as kubelet does and counts every failure.
      const r = await this.cni.cniAdd(this.s, p.node, p, { attempts: 1 });
      Object.assign(p, r);
      this.handedOut.push(r.ip);
      this.ifaces.push(r.iface);
      this.figures.addsOk++;
      this.live.push(p);
      return true;
    } catch (e) {
      this.figures.addErrors.push(e instanceof Error ? e.message : String(e));
      this.failed.push(p);
      return false;
    }
  }

  private async del(): Promise<void> {
    const p = this.live.shift();
    if (!p) return;
    this.figures.delsTried++;
    try {
      await this.cni.cniDel(this.s, p.node, p);
      await run('ip', ['netns', 'del', p.ns]).catch(() => undefined);
    } catch (e) {
      this.figures.delErrors.push(e instanceof Error ? e.message : String(e));
      this.failed.push(p); // DEL is retried, as a kubelet retries it
    }
  }

  /** Stops starting new operations and waits for those in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
  }

  /**
   * After recovery, what a kubelet does with each sandbox whose ADD (or DEL) failed: DEL it, then
   * ADD the same pod again in a fresh sandbox. Returns how many came up.
   */
  async retryFailed(): Promise<{ retried: number; ok: number; errors: string[] }> {
    const todo = this.failed.splice(0);
    const errors: string[] = [];
    let ok = 0;
    await pool(todo.map((p) => async (): Promise<void> => {
      try {
        await this.cni.cniDel(this.s, p.node, p);
        const again = { ...p, containerId: this.cni.newContainerId() };
        const r = await this.cni.cniAdd(this.s, p.node, again, { attempts: 1 });
        this.handedOut.push(r.ip);
        this.ifaces.push(r.iface);
        this.live.push({ ...again, ...r });
        ok++;
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }), 4);
    return { retried: todo.length, ok, errors };
  }

  /** DELs every churn pod still up (the lab's `down` removes their namespaces by prefix anyway). */
  async drain(): Promise<void> {
    await pool(this.live.splice(0).map((p) => async (): Promise<void> => {
      await this.cni.cniDel(this.s, p.node, p).catch(() => undefined);
      await run('ip', ['netns', 'del', p.ns]).catch(() => undefined);
    }), 4);
  }
}


/**
 * A node's kernel state that the agent owns: routes in every table, rules, iptables (filter, nat,
 * mangle, raw — not security, where the tests cut etcd off) without counters, ipsets; sorted lines.
 */
export async function kernelSnapshot(node: LabNode): Promise<string[]> {
  const inNs = async (argv: string[]): Promise<string> => (await run('ip', ['netns', 'exec', node.ns, ...argv])).stdout;
  const parts = await Promise.all([
    inNs(['ip', 'route', 'show', 'table', 'all']),
    inNs(['ip', 'rule']),
    ...['filter', 'nat', 'mangle', 'raw'].map((t) => inNs(['iptables-save', '-t', t])),
    inNs(['ipset', 'save']),
  ]);
  return parts
    .join('\n')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    // Counters, and Calico's rule-hash comments: a hash chains over the rules before it, so a churn
    // pod's own dispatch entry (filtered out below) renames the chain's final DROP without changing it.
    .map((l) => l.replace(/\[\d+:\d+\]/g, '').replace(/ -m comment --comment "?cali:[\w-]+"?/g, ''))
    .flatMap(dispatchEntry)
    .sort();
}

/**
 * The workload dispatch chains as each endpoint's entry, not as the tree they form: a churn pod's
 * ADD can regroup them by interface prefix (cali-from-wl-dispatch → cali0+ → cali-from-wl-dispatch-0),
 * moving the other endpoints' entries without changing where their packets go.
 */
function dispatchEntry(line: string): string[] {
  const chain = /^(?::|-A )(cali-(?:from|to)-wl-dispatch)(?:-[\w]+)?\b/.exec(line);
  if (!chain) return [line];
  const entry = /(-[io] cali\w+) -g (cali-[ft]w-cali\w+)$/.exec(line);
  return entry ? [`${chain[1]} ${entry[1]} -g ${entry[2]}`] : [];
}

/** Lines that name none of `marks` (whole addresses or interface names, so 10.65.0.6 is not 10.65.0.65). */
export function withoutMarks(lines: readonly string[], marks: readonly string[]): string[] {
  const res = marks.map((x) => new RegExp(`(^|[^\\w.])${x.replace(/\./g, '\\.')}([^\\w.]|$)`));
  return lines.filter((l) => !res.some((m) => m.test(l)));
}

/** Lines in one snapshot and not the other. */
export function snapshotDiff(a: readonly string[], b: readonly string[]): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((l) => !sb.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !sa.has(l)).map((l) => `+ ${l}`)];
}

/** Each BGP peer's state and since-time from `tortiectl node status` on the node. */
export async function bgpSessions(lab: (args: string[]) => Promise<string>, node: string): Promise<string[]> {
  const out = await lab(['exec', node, '--', ...entryArgv('ctl/main'), 'node', 'status']);
  return out
    .split('\n')
    .filter((l) => /^\|\s*\d+\.\d+\.\d+\.\d+/.test(l))
    .map((l) =>
      l
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean)
        .join(' '),
    )
    .sort();
}

/** One scenario's figures, as the README's "Datastore faults" table quotes them. */
export interface FaultFigures {
  scenario: string;
  pingsSent: number;
  pingsLost: number;
  addsTried: number;
  addsFailed: number;
  addsFailedNamingDatastore: number;
  retriedAfterRecovery: number;
  retriedOk: number;
  kernelChangesDuringOutage: number;
  resyncSeconds: number;
}

/** A lab under fault injection: what the scenarios share. */
export interface FaultLab {
  t: TestLab;
  s: LabState;
  /** What every failed ADD's error must name: the datastore (etcd, or the Kubernetes API). */
  namesDatastore: RegExp;
  /** Each scenario's figures, appended as it ends. */
  figures: FaultFigures[];
}

export interface FaultScenario {
  /** Starts the outage. */
  inject: () => Promise<void>;
  holdMs: number;
  /** Ends it. */
  recover: () => Promise<void>;
  /** Nodes whose kernel state must not change while the datastore is away. */
  watched: string[];
  churnNodes?: () => LabNode[];
  /** Only ADDs on this node may fail (the others still reach the datastore). */
  addErrorsOnlyOn?: string;
  /** The churn's pods (the Kubernetes datastore: Pods made beforehand). */
  pods?: ChurnPodSource;
}

interface ReadyStatus {
  nodes: Array<{ name: string; ready?: string }>;
}

/** Until every node is ready (in sync, sessions up) and a new pod comes up on each. */
async function resynced(lab: FaultLab, churn: Churn): Promise<void> {
  const status = async (): Promise<ReadyStatus> => JSON.parse(await lab.t.lab(['status', '-o', 'json'])) as ReadyStatus;
  await eventually(async () => ((await status()).nodes.every((n) => n.ready === 'ready') ? true : undefined), 120_000);
  await Promise.all(lab.s.nodes.map((n) => eventually(async () => ((await churn.add(n)) ? true : undefined), 60_000))).catch((e: unknown) => {
    throw new Error(`no new pod came up on every node after recovery${churn.ranDry.size ? ` (the churn ran out of Pods on ${[...churn.ranDry].join(', ')})` : ''}: ${(e as Error).message}`);
  });
}

/**
 * Runs one fault under load: `inject` starts the outage, `recover` ends it. Kernel snapshots of
 * `watched` nodes are taken right after inject and right before recover; they must not differ.
 * Then: no ping lost, no BGP session re-established, every failed ADD named the datastore and its
 * pod started after recovery, no address handed out twice, `tortiectl ipam check` clean.
 */
export async function underLoad(lab: FaultLab, scenario: string, o: FaultScenario): Promise<void> {
  const { t, s } = lab;
  const node = (name: string): LabNode => {
    const n = s.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no ${name}`);
    return n;
  };
  const pingers = startPingers(s);
  const churn = await startChurn(s, scenario.slice(0, 2), o.churnNodes ?? (() => s.nodes), 4, o.pods);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const sessionsBefore = await Promise.all(s.nodes.map((n) => bgpSessions(t.lab, n.name)));
    await o.inject();
    await new Promise((r) => setTimeout(r, 1000));
    const before = await Promise.all(o.watched.map((n) => kernelSnapshot(node(n))));
    await new Promise((r) => setTimeout(r, o.holdMs));
    const after = await Promise.all(o.watched.map((n) => kernelSnapshot(node(n))));
    await o.recover();
    const t0 = Date.now();
    await resynced(lab, churn);
    const resyncSeconds = Math.round((Date.now() - t0) / 100) / 10;
    await churn.stop();
    const retry = await churn.retryFailed();
    const pings: PairCount[] = await pingers.stop();
    // Churn pods' own routes and chains come and go with their veths (ADDs in flight included): left out.
    const marks = churn.churnMarks();
    const sessionsAfter = await Promise.all(s.nodes.map((n) => bgpSessions(t.lab, n.name)));
    const ipam = await t.lab(['exec', 'node1', '--', ...entryArgv('ctl/main'), 'ipam', 'check']);
    const liveIps = [...s.pods.map((p) => p.ip), ...churn.live.map((p) => p.ip)];
    const diffs = o.watched.map((n, i) => ({ node: n, diff: snapshotDiff(withoutMarks(before[i] ?? [], marks), withoutMarks(after[i] ?? [], marks)) }));
    const f = churn.figures;
    const namingDatastore = f.addErrors.filter((e) => lab.namesDatastore.test(e));
    lab.figures.push({
      scenario,
      pingsSent: pings.reduce((a, p) => a + p.sent, 0),
      pingsLost: pings.reduce((a, p) => a + p.sent - p.received, 0),
      addsTried: f.addsTried,
      addsFailed: f.addErrors.length,
      addsFailedNamingDatastore: namingDatastore.length,
      retriedAfterRecovery: retry.retried,
      retriedOk: retry.ok,
      kernelChangesDuringOutage: diffs.reduce((a, d) => a + d.diff.length, 0),
      resyncSeconds,
    });
    await churn.drain();

    for (const p of pings) {
      expect(p.sent, `${p.from} → ${p.to}`).toBeGreaterThan(0);
      expect(p.received, `${p.from} → ${p.to}: lost ${p.sent - p.received} of ${p.sent}`).toBe(p.sent);
    }
    for (const d of diffs) expect(d.diff, `kernel changes on ${d.node} while the datastore was away`).toEqual([]);
    expect(sessionsAfter, 'BGP sessions (peer, state, since) before and after').toEqual(sessionsBefore);
    const unnamed = f.addErrors.filter((e) => !lab.namesDatastore.test(e));
    // The messages go in the label: a CI tail shows the label, not the array's items.
    expect(unnamed, `ADD errors that do not name the datastore: ${[...new Set(unnamed)].slice(0, 3).join(' | ')}`).toEqual([]);
    if (o.addErrorsOnlyOn) expect(f.addErrors.filter((e) => !e.includes(`on ${o.addErrorsOnlyOn} failed`)), `ADDs failed on nodes other than ${o.addErrorsOnlyOn}`).toEqual([]);
    expect(retry.errors, 'the failed pods started again after recovery').toEqual([]);
    expect(new Set(liveIps).size, `addresses of live pods: ${liveIps.join(' ')}`).toBe(liveIps.length);
    expect(ipam).toMatch(/Duplicate addresses: 0/);
    expect(ipam).toMatch(/Handle count mismatches: 0/);
  } finally {
    await churn.stop();
    await pingers.stop().catch(() => undefined);
  }
}
