// rr-race raises the host's neighbour-table limits for its clients (each costs an ARP entry on
// both sides) and puts them back when the last run holding them raised ends.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** The host-wide neighbour-table limits: raised for a run's clients (each costs an ARP entry on both sides), see NEIGH_STATE. */
const NEIGH_LIMITS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].flatMap((t) => [`/proc/sys/net/ipv4/neigh/default/${t}`, `/proc/sys/net/ipv6/neigh/default/${t}`]);
/**
 * The limits are host-wide, so runs at the same time share one record: the values found by the
 * first run and the runs holding them raised. Each run saving what it found would let a run that
 * started while another had raised them "restore" the raised values.
 */
const NEIGH_STATE = '/run/tortie-rrbench-neigh.json';
interface NeighState {
  original: Record<string, string>;
  pids: number[];
}
/** What this run found, in case the shared record is gone by its end. */
let neighFound: Record<string, string> | undefined;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The shared record, without runs that have died (an empty list: nobody holds the limits raised). */
function neighState(): NeighState | undefined {
  if (!existsSync(NEIGH_STATE)) return undefined;
  try {
    const st = JSON.parse(readFileSync(NEIGH_STATE, 'utf8')) as NeighState;
    return { original: st.original, pids: st.pids.filter((pid) => pid !== process.pid && alive(pid)) };
  } catch {
    return undefined;
  }
}

/** Raises the neighbour-table limits for this many clients (never lowers them). */
export function raiseNeighLimits(clients: number): void {
  const want = [clients * 2, clients * 4, clients * 8].map((n) => Math.max(n, 1024));
  const found = Object.fromEntries(NEIGH_LIMITS.map((f) => [f, readFileSync(f, 'utf8').trim()]));
  const held = neighState();
  const original = held?.pids.length ? held.original : found;
  neighFound = found;
  writeFileSync(NEIGH_STATE, JSON.stringify({ original, pids: [...(held?.pids ?? []), process.pid] }));
  NEIGH_LIMITS.forEach((f, i) => {
    const target = want[Math.floor(i / 2)] ?? 1024;
    if (Number(readFileSync(f, 'utf8').trim()) < target) writeFileSync(f, String(target));
  });
}

/** The last run holding the limits raised puts back the values the first one found. */
export function restoreNeighLimits(): void {
  const found = neighFound;
  if (!found) return;
  neighFound = undefined;
  const held = neighState();
  if (held?.pids.length) {
    writeFileSync(NEIGH_STATE, JSON.stringify(held));
    return;
  }
  for (const [f, v] of Object.entries(held?.original ?? found)) writeFileSync(f, v);
  rmSync(NEIGH_STATE, { force: true });
}
