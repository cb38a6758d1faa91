// Network namespaces for tests: every namespace made here is recorded and removed by cleanup(),
// and names carry a per-run prefix so a crashed earlier run's leftovers can be found and removed.
import { run } from './exec.js';

export const TEST_NETNS_PREFIX = 'tt';

let counter = 0;

export class NetnsSet {
  private readonly names: string[] = [];
  readonly runId: string;

  constructor(label = 'x') {
    this.runId = `${TEST_NETNS_PREFIX}${label}${process.pid % 100000}`;
  }

  /** Creates a namespace with loopback up. Names stay ≤ 15 chars so they can prefix interface names. */
  async add(short: string): Promise<string> {
    const name = `${this.runId}-${short}-${counter++}`;
    await run('ip', ['netns', 'add', name]);
    this.names.push(name);
    await this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    return name;
  }

  exec(ns: string, argv: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
    return run('ip', ['netns', 'exec', ns, ...argv], input === undefined ? {} : { input });
  }

  /** A veth pair between two namespaces, each end addressed (CIDR form) and up. */
  async veth(nsA: string, ifA: string, addrA: string | undefined, nsB: string, ifB: string, addrB: string | undefined): Promise<void> {
    const tmpA = `tv${process.pid % 10000}a${counter}`;
    const tmpB = `tv${process.pid % 10000}b${counter++}`;
    await run('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    await run('ip', ['link', 'set', tmpA, 'netns', nsA]);
    await run('ip', ['link', 'set', tmpB, 'netns', nsB]);
    await this.exec(nsA, ['ip', 'link', 'set', tmpA, 'name', ifA]);
    await this.exec(nsB, ['ip', 'link', 'set', tmpB, 'name', ifB]);
    if (addrA) await this.exec(nsA, ['ip', 'addr', 'add', addrA, 'dev', ifA]);
    if (addrB) await this.exec(nsB, ['ip', 'addr', 'add', addrB, 'dev', ifB]);
    await this.exec(nsA, ['ip', 'link', 'set', ifA, 'up']);
    await this.exec(nsB, ['ip', 'link', 'set', ifB, 'up']);
  }

  /** Kills every process in each namespace, then deletes the namespaces. Never throws. */
  async cleanup(): Promise<void> {
    for (const ns of this.names.splice(0).reverse()) {
      await killNamespaceProcesses(ns);
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  }
}

export async function killNamespaceProcesses(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => []);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Removes namespaces left by crashed earlier runs with the given prefix. */
export async function removeStaleNamespaces(prefix: string): Promise<number> {
  const out = await run('ip', ['netns', 'list']).then((r) => r.stdout, () => '');
  let removed = 0;
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0];
    if (name && name.startsWith(prefix)) {
      await killNamespaceProcesses(name);
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
