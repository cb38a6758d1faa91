// Command helpers for the lab: run a tool, run inside a namespace, list/remove namespaces.
import { readFileSync } from 'node:fs';
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

/** Pids of the processes in a namespace whose command name (/proc/PID/comm) is `comm`. */
export async function nsPids(ns: string, comm: string): Promise<number[]> {
  const out = await tool('ip', ['netns', 'pids', ns]).catch(() => '');
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    });
}

/** Signals `comm` in a namespace; resolves once it has exited (or after 15 s), with how many were signalled. */
export async function signalInNs(ns: string, comm: string, sig: NodeJS.Signals): Promise<number> {
  const pids = await nsPids(ns, comm);
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 15_000;
  while ((await nsPids(ns, comm)).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.length;
}
