// GoBGP's WatchEvent over the speaker's change events (no polling): `peer` sends a STATE event on
// each session or admin state change; table filters BEST (best-path changes, diffed once per
// event-loop turn, so a burst of UPDATEs is one event) and ADJIN / POST_POLICY (paths as received;
// import rules drop routes before the Adj-RIB-In, so both show the same) send paths as they
// change, and with `init` the current table first.
import type { Speaker } from '../../speaker/speaker.js';
import type { Prefix } from '../../types.js';
import { keyToPrefix } from '../../rib/index.js';
import { InvalidArgument, list, nlriToApi, type ApiPath } from './convert.js';
import type { ApiPeer } from './peer.js';

export interface WatchRequest {
  peer: boolean;
  best?: { init: boolean };
  adjIn?: { init: boolean };
}

/** Checks a WatchEventRequest: known filter types, something to watch. */
export function parseWatchRequest(req: Record<string, unknown>): WatchRequest {
  const table = req.table as { filters?: unknown } | null | undefined;
  const filters = list<{ type?: unknown; init?: unknown } | null>(table?.filters, 'table.filters').map((f) => ({ type: String(f?.type ?? 'BEST'), init: !!f?.init }));
  for (const f of filters) if (!['BEST', 'ADJIN', 'POST_POLICY'].includes(f.type)) throw new InvalidArgument(`table.filters: type ${f.type} is not BEST, ADJIN or POST_POLICY`);
  const best = filters.filter((f) => f.type === 'BEST');
  const adjIn = filters.filter((f) => f.type !== 'BEST');
  if (!filters.length && !req.peer) throw new InvalidArgument('WatchEvent: ask for peer and/or table events');
  return {
    peer: !!req.peer,
    ...(best.length ? { best: { init: best.some((f) => f.init) } } : {}),
    ...(adjIn.length ? { adjIn: { init: adjIn.some((f) => f.init) } } : {}),
  };
}

/** What a watch reads of the speaker, as API messages. */
export interface WatchView {
  events: Speaker['events'];
  peerAddresses(): string[];
  /** The best path of every prefix, keyed by prefix. */
  bestPaths(): Map<string, ApiPath>;
  /** One peer's Adj-RIB-In paths for `prefixes` (withdrawals for those it no longer has), or all. */
  adjInPaths(address: string, prefixes: readonly Prefix[] | undefined): ApiPath[];
  /** A peer's state (session and admin) and its message; undefined: no such peer. */
  peer(address: string): { state: string; message: ApiPeer } | undefined;
}

export type WatchEventMessage = { table: { paths: ApiPath[] } } | { peer: { type: 'STATE'; peer: ApiPeer } };

/** Sends the initial dump and then each change to `send`; returns the function that stops it. */
export function startWatch(req: WatchRequest, view: WatchView, send: (m: WatchEventMessage) => void): () => void {
  const write = (paths: ApiPath[]): void => {
    if (paths.length) send({ table: { paths } });
  };
  const best = req.best ? new BestWatch(() => view.bestPaths()) : undefined;
  if (best) write(best.start(!!req.best?.init));
  if (req.adjIn?.init) for (const a of view.peerAddresses()) write(view.adjInPaths(a, undefined));
  const states = new Map(view.peerAddresses().map((a) => [a, view.peer(a)?.state]));
  let pending = false;
  const onPaths = (source: string, prefixes: readonly Prefix[] | undefined): void => {
    if (req.adjIn && source !== 'local') write(view.adjInPaths(source, prefixes));
    if (!best || pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (!stopped) write(best.changes());
    });
  };
  const onPeer = (address: string): void => {
    const p = view.peer(address);
    if (!p || states.get(address) === p.state) return;
    states.set(address, p.state);
    send({ peer: { type: 'STATE', peer: p.message } });
  };
  let stopped = false;
  if (req.best || req.adjIn) view.events.on('paths', onPaths);
  if (req.peer) view.events.on('peer', onPeer);
  return () => {
    stopped = true;
    view.events.off('paths', onPaths);
    view.events.off('peer', onPeer);
  };
}

/** Best-path changes between snapshots of the table: new or changed best paths, withdrawals. */
class BestWatch {
  private last = new Map<string, ApiPath>();
  constructor(private readonly snapshot: () => Map<string, ApiPath>) {}

  /** Takes the first snapshot; with `init` its paths are the first event. */
  start(init: boolean): ApiPath[] {
    this.last = this.snapshot();
    return init ? [...this.last.values()] : [];
  }

  changes(): ApiPath[] {
    const next = this.snapshot();
    const out: ApiPath[] = [];
    for (const [k, p] of next) if (!sameBest(this.last.get(k), p)) out.push(p);
    for (const [k, p] of this.last) if (!next.has(k)) out.push({ ...p, nlri: nlriToApi(keyToPrefix(k)), is_withdraw: true } as ApiPath);
    this.last = next;
    return out;
  }
}

const sameBest = (a: ApiPath | undefined, b: ApiPath): boolean => !!a && a.neighbor_ip === b.neighbor_ip && JSON.stringify(a.pattrs) === JSON.stringify(b.pattrs);
