// Command helpers for the lab: run a tool, run inside a namespace, list/remove namespaces.
import { tool } from '../felix/dataplane/exec.js';

export { tool };

export function nsExec(ns: string, argv: string[], input?: string): Promise<string> {
  return tool('ip', ['netns', 'exec', ns, ...argv], input);
}

export async function listNamespaces(): Promise<string[]> {
  const out = await tool('ip', ['netns', 'list']).catch(() => '');
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

export async function killNsProcesses(ns: string): Promise<void> {
  const out = await tool('ip', ['netns', 'pids', ns]).catch(() => '');
  for (const pid of out.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export async function addNs(name: string): Promise<void> {
  await tool('ip', ['netns', 'add', name]);
  await nsExec(name, ['ip', 'link', 'set', 'lo', 'up']);
}

export async function delNs(name: string): Promise<void> {
  await killNsProcesses(name);
  await tool('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** A veth made directly between two namespaces, so no name is ever taken in the root namespace. */
export async function vethBetween(nsA: string, ifA: string, nsB: string, ifB: string, mtu?: number): Promise<void> {
  const m = mtu ? ['mtu', String(mtu)] : [];
  await tool('ip', ['link', 'add', ifA, ...m, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, ...m, 'netns', nsB]);
}

export async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await nsExec(ns, ['sysctl', '-qw', `${key}=${value}`]);
}
