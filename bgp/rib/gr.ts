// Graceful restart helper (RFC 4724) as pure state: events in, actions out. The speaker performs the
// actions on the Rib (markStale / purgeStale) and runs the timer it is told to.
export type GrEvent =
  | { type: 'session-down'; peer: string; now: number; /** peer advertised GR with this restart time (s); undefined = no GR */ restartTime: number | undefined; /** families with forwarding state preserved */ families: Array<4 | 6> }
  | { type: 'session-up'; peer: string; now: number; /** families the new session negotiated GR with forwarding state */ families: Array<4 | 6> }
  | { type: 'end-of-rib'; peer: string; family: 4 | 6 }
  | { type: 'timer'; peer: string; now: number };

export type GrAction =
  | { type: 'drop-routes'; peer: string }
  | { type: 'mark-stale'; peer: string }
  | { type: 'purge-stale'; peer: string; family?: 4 | 6 }
  | { type: 'set-timer'; peer: string; at: number }
  | { type: 'cancel-timer'; peer: string };

interface PeerGr {
  phase: 'restarting' | 'refreshing';
  /** Families still waiting for End-of-RIB after the restart. */
  waiting: Set<4 | 6>;
  deadline: number;
}

/** How long we wait for End-of-RIB after the peer re-established (like BIRD's stale time), s. */
export const DEFAULT_STALE_TIME = 360;

export class GrHelper {
  private readonly peers = new Map<string, PeerGr>();
  constructor(private readonly staleTimeSec = DEFAULT_STALE_TIME) {}

  isHelping(peer: string): boolean {
    return this.peers.has(peer);
  }

  handle(ev: GrEvent): GrAction[] {
    const st = this.peers.get(ev.peer);
    switch (ev.type) {
      case 'session-down': {
        if (ev.restartTime === undefined || ev.restartTime <= 0 || ev.families.length === 0) {
          this.peers.delete(ev.peer);
          return [...(st ? [{ type: 'cancel-timer' as const, peer: ev.peer }] : []), { type: 'drop-routes', peer: ev.peer }];
        }
        // Down again while already stale: keep the old stale set, restart the clock.
        const deadline = ev.now + ev.restartTime * 1000;
        this.peers.set(ev.peer, { phase: 'restarting', waiting: new Set(ev.families), deadline });
        return [{ type: 'mark-stale', peer: ev.peer }, { type: 'set-timer', peer: ev.peer, at: deadline }];
      }
      case 'session-up': {
        if (!st) return [];
        const keep = ev.families.filter((f) => st.waiting.has(f));
        const dropped = [...st.waiting].filter((f) => !keep.includes(f));
        const actions: GrAction[] = dropped.map((f) => ({ type: 'purge-stale' as const, peer: ev.peer, family: f }));
        if (keep.length === 0) {
          this.peers.delete(ev.peer);
          return [...actions, { type: 'cancel-timer', peer: ev.peer }];
        }
        st.phase = 'refreshing';
        st.waiting = new Set(keep);
        st.deadline = ev.now + this.staleTimeSec * 1000;
        return [...actions, { type: 'set-timer', peer: ev.peer, at: st.deadline }];
      }
      case 'end-of-rib': {
        if (!st || st.phase !== 'refreshing' || !st.waiting.delete(ev.family)) return [];
        const actions: GrAction[] = [{ type: 'purge-stale', peer: ev.peer, family: ev.family }];
        if (st.waiting.size === 0) {
          this.peers.delete(ev.peer);
          actions.push({ type: 'cancel-timer', peer: ev.peer });
        }
        return actions;
      }
      case 'timer': {
        if (!st || ev.now < st.deadline) return [];
        this.peers.delete(ev.peer);
        return [{ type: 'purge-stale', peer: ev.peer }];
      }
    }
  }
}
