// The lab's etcd: one member (`up`, namespace <prefix>etcd at 10.0.0.2) or a cluster of 3 or 5
// (`up --etcd N`, namespaces <prefix>etcd1… at 10.0.0.2…), each member in its own namespace on
// segment 0. Every component gets every client URL; `tortie-lab etcd kill|stop|start MEMBER`
// injects faults and `tortie-lab status` shows who leads.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { nsExec, nsPids, signalInNs } from './sh.js';
import { stateDir, type LabEtcdMember, type LabState } from './state.js';

/** Members for a cluster of `size` (1 keeps the single-etcd names and address). */
export function etcdMembers(prefix: string, size: number): LabEtcdMember[] {
  if (size === 1) return [{ name: 'etcd', ns: `${prefix}etcd`, ip: '10.0.0.2' }];
  return Array.from({ length: size }, (_, i) => ({ name: `etcd${i + 1}`, ns: `${prefix}etcd${i + 1}`, ip: `10.0.0.${2 + i}` }));
}

export const clientUrl = (m: Pick<LabEtcdMember, 'ip'>): string => `http://${m.ip}:2379`;
const peerUrl = (m: Pick<LabEtcdMember, 'ip'>): string => `http://${m.ip}:2380`;

/** The members a lab has: recorded ones, or the single etcd of a lab made before clusters. */
export function membersOf(s: LabState): LabEtcdMember[] {
  return s.etcdMembers ?? [{ name: 'etcd', ns: s.etcdNs, ip: '10.0.0.2' }];
}

export function findMember(s: LabState, name: string): LabEtcdMember {
  const m = membersOf(s).find((x) => x.name === name);
  if (!m) throw new Error(`no etcd member named ${name} (members: ${membersOf(s).map((x) => x.name).join(', ')})`);
  return m;
}

/**
 * Starts (or restarts) one member. Its data dir outlives the process, so a restarted member
 * rejoins with its own identity (etcd ignores the initial-cluster flags once the dir exists).
 */
export function startMember(s: LabState, m: LabEtcdMember): number | undefined {
  const members = membersOf(s);
  const dir = join(stateDir(), m.name);
  mkdirSync(dir, { recursive: true });
  const log = openSync(join(stateDir(), `${m.name}.log`), 'a');
  // A single member keeps listening for peers on loopback only, as the lab always did.
  const peer = members.length === 1 ? 'http://127.0.0.1:2380' : peerUrl(m);
  const cluster = members.length === 1 ? `${m.name}=${peer}` : members.map((x) => `${x.name}=${peerUrl(x)}`).join(',');
  const args = [
    '--name', m.name,
    '--data-dir', dir,
    '--listen-client-urls', clientUrl(m),
    '--advertise-client-urls', clientUrl(m),
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', cluster,
    '--initial-cluster-token', `${s.prefix}etcd`,
  ];
  const child = spawn('ip', ['netns', 'exec', m.ns, 'etcd', ...args], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  return child.pid;
}

/** Pids of the etcd process(es) in a member's namespace. */
export const memberPids = (m: Pick<LabEtcdMember, 'ns'>): Promise<number[]> => nsPids(m.ns, 'etcd');

/** Signals a member's etcd; resolves once it has exited (SIGKILL / SIGTERM) so callers can restart it. */
export const signalMember = (m: LabEtcdMember, sig: NodeJS.Signals): Promise<number> => signalInNs(m.ns, 'etcd', sig);

export interface MemberStatus {
  name: string;
  endpoint: string;
  /** running: answers; down: no etcd process; unreachable: a process that does not answer. */
  state: 'running' | 'down' | 'unreachable';
  leader: boolean;
  revision?: number;
}

interface EndpointStatusJson {
  Endpoint: string;
  Status: { header: { member_id: number | string; revision: number }; leader: number | string };
}

/** Each member's health and who it says leads (etcdctl endpoint status, asked from its own namespace). */
export async function memberStatus(s: LabState): Promise<MemberStatus[]> {
  return Promise.all(
    membersOf(s).map(async (m): Promise<MemberStatus> => {
      const base = { name: m.name, endpoint: clientUrl(m), leader: false };
      if (!(await memberPids(m)).length) return { ...base, state: 'down' };
      try {
        const out = await nsExec(m.ns, ['etcdctl', `--endpoints=${clientUrl(m)}`, '--command-timeout=2s', '-w', 'json', 'endpoint', 'status']);
        const st = (JSON.parse(out) as EndpointStatusJson[])[0]?.Status;
        if (!st) return { ...base, state: 'unreachable' };
        return { ...base, state: 'running', leader: String(st.leader) === String(st.header.member_id), revision: st.header.revision };
      } catch {
        return { ...base, state: 'unreachable' };
      }
    }),
  );
}

/** Until every running member answers and one of them leads (a fresh or restarted cluster elects). */
export async function waitEtcdLeader(s: LabState, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await memberStatus(s);
    const leader = st.find((m) => m.leader);
    if (leader && st.every((m) => m.state !== 'unreachable')) return leader.name;
    if (Date.now() > deadline) throw new Error(`etcd has no leader after ${timeoutMs / 1000}s: ${st.map((m) => `${m.name} ${m.state}`).join(', ')} (logs: ${stateDir()}/etcd*.log)`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
