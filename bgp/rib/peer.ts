// A peer as the RIB sees it: its Adj-RIB-In, its output state against the update groups, and its
// graceful-restart state. The session itself (socket, timers) belongs to the speaker.
import type { Path } from './path.js';
import type { OutGroup } from './adj-out.js';
import type { HeldPaths } from './addpath-out.js';
import { AdjRibIn } from './adj-in.js';
import type { PrefixSlots } from './slots.js';

/**
 * Output mode: idle (no session), sync (sending its own queue: the initial table, a route
 * refresh, or a resync after a stall), grouped (fed by its update group), stalled (its socket
 * queue passed the limit; waiting for it to drain, changes accumulate in `pending`).
 */
export type OutMode = 'idle' | 'sync' | 'grouped' | 'stalled';

/** A per-peer export decision by prefix (BGPFilter export rules); `key` names it for update grouping. */
export interface ExportFilter {
  key: string;
  /** False: the prefix (a prefix key, "10.0.0.0/24") is not advertised to the peer. */
  accepts(prefixKey: string, fromPeer: boolean): boolean;
}

export interface PeerOptions {
  asNumber: number;
  rrClient?: boolean;
  keepOriginalNextHop?: boolean;
  exportFilter?: ExportFilter;
  /** Routes whose AS_PATH holds our AS at most this many times are accepted (BIRD's `allow local as`); default 0. */
  allowLocalAs?: number;
}

/** What the RIB keeps of an established session. */
export interface SessionFacts {
  routerId: string;
  /** Our address on the session (next-hop-self). */
  selfAddress: string | undefined;
  /** AFIs negotiated. */
  afis: number[];
  /** The GR capability the peer advertised (needed once that session is gone). */
  peerGr?: { restartTime: number; families: Array<{ afi: number; safi: number; forwardingState: boolean }> };
}

export class PeerRib {
  /** Per prefix key: the peer's path, or with ADD-PATH the best of its paths (see `paths`). */
  readonly adjIn: AdjRibIn;
  /** ADD-PATH (RFC 7911): every path the peer sent for a prefix key, by path identifier. */
  readonly paths = new Map<string, Map<number, Path>>();
  mode: OutMode = 'idle';
  /** Own queue outside the group: prefix key → the peer may hold an older advertisement. */
  readonly pending = new Map<string, boolean>();
  /**
   * The rest of a whole-table sync (initial table, route refresh): the next prefix slot of a walk
   * over its group's Adj-RIB-Out rather than a copy of the keys in `pending` (a Map entry per
   * prefix per syncing peer), and no string lookup per prefix.
   */
  tableWalk?: number;
  /** ADD-PATH send: the rest of a whole-table sync over its group's paths, after the slot walk (a live walk of the Map). */
  pathWalk?: { paths: ReadonlyMap<string, unknown>; keys: Iterator<string> };
  /** ADD-PATH send, after a stall: the path identifiers it may still hold per prefix (see snapshotHeld). */
  heldPaths?: HeldPaths;
  group?: OutGroup;
  /** Families ("afi/safi") whose End-of-RIB came on this session. */
  readonly eorFrom = new Set<string>();
  rejected = 0;
  readonly ebgp: boolean;
  routerId = '';
  selfAddress: string | undefined;
  afis: number[] = [];
  /** End-of-RIB is due once pending is empty and the table walk done (initial table sent). */
  eorPending = false;
  peerGr?: SessionFacts['peerGr'];
  /** Graceful-restart helper: we keep its routes as stale until its End-of-RIB or the stale timer. */
  helping = false;

  constructor(
    /** Normalized peer address: the path source and the Adj-RIB-In's owner. */
    readonly address: string,
    readonly options: PeerOptions,
    localAs: number,
    /** The prefix table its Adj-RIB-In lives in. */
    table: PrefixSlots,
  ) {
    this.ebgp = options.asNumber !== localAs;
    this.adjIn = new AdjRibIn(table, address);
  }

  /** Prefixes it advertises through its group (0 outside one). */
  get advertised(): number {
    return this.mode === 'grouped' && this.group ? this.group.count : 0;
  }

  get hasStale(): boolean {
    for (const r of this.adjIn.values()) if (r.stale) return true;
    return false;
  }
}
