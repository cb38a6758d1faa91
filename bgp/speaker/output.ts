// The send side of the speaker: what the RIB says a group or a peer must send, encoded and written
// with socket back-pressure. A group batch is exported and encoded once and the same Buffers go
// to every member; a member whose socket falls behind leaves its group (stalls) until it drains,
// then re-syncs the prefixes it missed and rejoins.
import type { Logger } from 'pino';
import { endOfRib } from '../codec/index.js';
import type { CodecContext, NlriPrefix } from '../codec/types.js';
import { Announcements, keyOf, keyToPrefix, pathKey, type GroupBatch, type OutAttr, type OutGroup, type PeerRib, type Rib, type SyncBatch } from '../rib/index.js';
import { Batcher } from './batcher.js';
import { Encoder, framesFor, type CachedFrames } from './encoder.js';
import type { Peer } from './peer.js';

const prefixOf = (k: string, id: number | undefined): NlriPrefix => (id === undefined ? keyToPrefix(k) : { ...keyToPrefix(k), pathId: id });

/** A sync batch's exports as announcements. */
function announce(b: SyncBatch): Announcements {
  const routes = new Announcements();
  for (let i = 0; i < b.outs.length; i++) routes.add(b.outs[i], prefixOf(b.keys[i], b.ids[i]));
  return routes;
}

/**
 * Per-socket back-pressure: bytes a peer may have queued in user space before it is taken out
 * of its group. A stalled peer costs at most this plus one batch, and a set of changed prefix
 * keys (bounded by the table size); when its socket drains it re-syncs exactly those prefixes
 * from the Loc-RIB and rejoins its group. Its hold timer is its own business.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface OutputOptions {
  maxQueuedBytes?: number;
  /** Minimum route advertisement interval (see Batcher). */
  mraiMs?: number;
}

export class Output {
  /** Counters for tests and status: group batches encoded, writes of them, stalls, resyncs. */
  readonly stats = { groupBatches: 0, groupWrites: 0, stalls: 0, resyncs: 0, packReuses: 0, walkReuses: 0 };
  /** The same two counters per peer (a busy machine may stall more than one member at a time). */
  private readonly perPeer = new WeakMap<PeerRib, { stalls: number; resyncs: number }>();
  private readonly encoder: Encoder;
  private readonly batcher: Batcher<object>;
  private readonly maxQueued: number;
  private trimScheduled = false;

  constructor(
    private readonly rib: Rib,
    private readonly peerOf: (r: PeerRib) => Peer | undefined,
    options: OutputOptions,
    private readonly log: Logger,
  ) {
    this.encoder = new Encoder(log);
    this.batcher = new Batcher(options.mraiMs ?? 0);
    this.maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  }

  /** Times this peer left its group for not reading, and re-syncs that followed. */
  peerStats(r: PeerRib): { stalls: number; resyncs: number } {
    let c = this.perPeer.get(r);
    if (!c) this.perPeer.set(r, (c = { stalls: 0, resyncs: 0 }));
    return c;
  }

  scheduleGroup(g: OutGroup, more: boolean): void {
    this.batcher.schedule(g, () => this.flushGroup(g), more);
  }

  schedulePeer(p: PeerRib, more = false): void {
    this.batcher.schedule(p, () => this.flush(p), more);
  }

  /** Once per turn: drops the change-log entries every group has exported. */
  scheduleTrim(): void {
    if (this.trimScheduled) return;
    this.trimScheduled = true;
    setImmediate(() => {
      this.trimScheduled = false;
      this.encoder.trim(this.rib.out.trim());
    });
  }

  /** A new session: the whole table, then End-of-RIB, then into its group. */
  sendInitial(p: Peer): void {
    if (!p.session.negotiated) return;
    this.rib.out.startSync(p.rib);
    this.flush(p.rib);
  }

  /** Route refresh: the whole table again, as replacements (the peer keeps what it has meanwhile). */
  resend(p: Peer): void {
    if (p.session.negotiated && this.rib.out.resync(p.rib)) this.flush(p.rib);
  }

  /** One batch for a whole group: exported once, encoded once, the same Buffers to every member. */
  private flushGroup(g: OutGroup): void {
    const out = this.rib.out;
    if (!out.isLive(g)) return;
    const batch = out.groupBatch(g);
    if (!batch) return;
    const frames = this.encoder.groupFrames(g, batch);
    this.stats.groupBatches++;
    this.stats.packReuses = this.encoder.packReuses;
    /** This batch's own-route frames per member address. */
    const ownFrames = new Map<string, Buffer>();
    // A member is withdrawn its own routes only where the group had advertised something before.
    const replaced = batch.replaced;
    const mayHold = (x: NlriPrefix): boolean => !!replaced && replaced.has(pathKey(keyOf(x), x.pathId));
    for (const m of [...g.members]) {
      const peer = this.peerOf(m);
      if (!peer || peer.session.state !== 'Established') continue;
      if (peer.session.queuedBytes > this.maxQueued) {
        this.stall(peer, batch.keys, batch.prev);
        continue;
      }
      const mine = framesFor(frames, m.routerId, g.ctx, mayHold);
      if (batch.own.length) {
        const self = m.selfAddress ?? '';
        let own = ownFrames.get(self);
        if (!own) {
          const b = out.ownBatch(g, self, batch.own);
          ownFrames.set(self, (own = this.encoder.pack(b.routes, b.withdrawals, g.ctx, g.ctxKey, peer.config.address).all));
        }
        mine.push(own);
      }
      this.write(peer, mine);
      this.stats.groupWrites++;
    }
  }

  /** A peer outside its group sends its own queue, then joins the group. */
  private flush(r: PeerRib): void {
    const p = this.peerOf(r);
    const ctx = p?.session.codecContext;
    if (!p || !ctx || p.session.state !== 'Established' || r.mode !== 'sync') return;
    const out = this.rib.out;
    if (p.session.queuedBytes > this.maxQueued) {
      // Out of its group too (it would not take the group's batches either) until the socket drains.
      out.stall(r, []);
      this.waitDrain(p);
      return;
    }
    const b = out.syncBatch(r, ctx);
    const ctxKey = JSON.stringify(ctx);
    const g = r.group;
    if (b.walk && g) {
      // A whole range of the group's table: encoded once for every member syncing it meanwhile.
      const packed = this.encoder.walkFrames(g, ctxKey, b.walk, () => this.encoder.pack(announce(b), b.withdrawals, ctx, ctxKey, p.config.address));
      this.stats.walkReuses = this.encoder.walkReuses;
      // Routes it originated (its router id as ORIGINATOR_ID) go back to it as withdrawals.
      const own = (): NlriPrefix[] => b.outs.flatMap((o, i) => (o.attrs.originatorId === r.routerId ? [prefixOf(b.keys[i], b.ids[i])] : []));
      const frames = framesFor(packed, r.routerId, ctx, undefined, own);
      if (frames.length) this.write(p, frames);
    } else this.sendOwn(p, b, ctx, ctxKey);
    if (!b.done) return this.schedulePeer(r, true);
    if (out.join(r)) for (const f of p.session.negotiated?.families ?? []) p.session.send(endOfRib(f.afi, f.safi));
  }

  /** A sync batch of this member's own: single-route UPDATEs already encoded are reused, the rest packed. */
  private sendOwn(p: Peer, b: SyncBatch, ctx: CodecContext, ctxKey: string): void {
    const r = p.rib;
    const routes = new Announcements();
    /** UPDATEs already encoded (the encoder's cache): a peer joining a reflector of single-route nodes gets mostly these. */
    const encoded: Buffer[] = [];
    // Consecutive prefixes mostly share an export: its cache entry is looked up once per run.
    let last: OutAttr | undefined;
    let entry: CachedFrames | undefined;
    for (let i = 0; i < b.outs.length; i++) {
      const o = b.outs[i];
      const id = b.ids[i];
      if (o !== last) {
        last = o;
        entry = this.encoder.cachedEntry(o, ctxKey);
      }
      const hit = entry && entry.prefix === pathKey(b.keys[i], id) ? entry.frames : undefined;
      if (!hit) routes.add(o, prefixOf(b.keys[i], id));
      // Its own routes go as withdrawals, as framesFor does for the rest.
      else if (!r.routerId || o.attrs.originatorId !== r.routerId) encoded.push(hit);
      else b.withdrawals.push(prefixOf(b.keys[i], id));
    }
    if (routes.size || b.withdrawals.length) encoded.push(...framesFor(this.encoder.pack(routes, b.withdrawals, ctx, ctxKey, p.config.address), r.routerId, ctx));
    if (encoded.length) this.write(p, encoded);
  }

  /** One write for a peer's frames (the session writes each Buffer on its own). */
  private write(p: Peer, frames: Buffer[]): void {
    p.session.sendRaw(frames.length > 1 ? [Buffer.concat(frames)] : frames);
  }

  /** A member whose socket is not keeping up leaves its group until the socket drains. */
  private stall(p: Peer, batch: readonly string[], prev?: GroupBatch['prev']): void {
    this.rib.out.stall(p.rib, batch, prev);
    this.stats.stalls++;
    this.peerStats(p.rib).stalls++;
    this.log.warn({ peer: p.config.address, queued: p.session.queuedBytes }, 'peer is not reading: out of its update group until its socket drains');
    this.waitDrain(p);
  }

  private waitDrain(p: Peer): void {
    const s = p.session;
    s.onDrain(() => {
      if (p.session !== s) return;
      const stalled = p.rib.mode === 'stalled';
      if (!this.rib.out.resume(p.rib)) return;
      if (stalled) {
        this.stats.resyncs++;
        this.peerStats(p.rib).resyncs++;
      }
      this.schedulePeer(p.rib, true);
    });
  }
}
