// Graceful restart's timers and log around the pure RIB's GR state (RFC 4724, RFC 8538): in the
// helper role a stale timer per restarting peer, in the restarting role the selection-deferral
// timer, and the GR capability each new OPEN advertises.
import type { Logger } from 'pino';
import type { FsmConfig, NegotiatedSession } from '../fsm/types.js';
import type { Purge, Rib } from '../rib/index.js';
import type { Peer } from './peer.js';
import type { PeerConfig, SpeakerConfig } from './types.js';

export class GracefulRestart {
  private deferralTimer?: NodeJS.Timeout;

  constructor(
    private readonly config: SpeakerConfig,
    private readonly rib: Rib,
    private readonly log: Logger,
    /** A peer's paths changed wholesale (routes dropped or kept stale): for the management API. */
    private readonly changed: (source: string) => void,
  ) {}

  /**
   * The GR capability for new OPENs: R and F only while our own restart is in progress (selection
   * deferred), F only for the families whose forwarding state survived; N always (RFC 8538).
   */
  capability(peer?: PeerConfig): FsmConfig['gracefulRestart'] {
    const gr = this.config.gracefulRestart;
    if (!gr) return undefined;
    const restarting = this.rib.deferred;
    const fwd = gr.forwardingFamilies;
    return {
      restartTime: peer?.maxRestartTime ?? gr.restartTime ?? 120,
      restarting,
      forwardingState: restarting,
      ...(restarting && fwd ? { forwardingAfis: fwd.map((f) => (f === 4 ? 1 : 2)) } : {}),
      notification: true,
    };
  }

  /** We are restarting: selection waits for every End-of-RIB, or `expired` after the deferral time. */
  startDeferral(expired: () => void): void {
    if (!this.rib.deferred) return;
    const t = this.config.gracefulRestart?.deferralTime ?? 120;
    this.deferralTimer = setTimeout(expired, t * 1000);
    this.deferralTimer.unref();
  }

  stopDeferral(): void {
    if (this.deferralTimer) clearTimeout(this.deferralTimer);
  }

  /** A session came up: a restarting peer's stale routes stay until its End-of-RIB (or the stale timer). */
  sessionUp(p: Peer, s: NegotiatedSession): void {
    const up = this.rib.sessionUp(p.rib, { routerId: s.peerRouterId, selfAddress: p.session.localAddress, afis: s.families.map((f) => f.afi), peerGr: s.peerGracefulRestart });
    this.setStaleTimer(p, up.staleTimerMs, 'stale timer expired after restart');
    for (const x of up.purged) this.logPurge(p, x, s.peerGracefulRestart ? 'peer restarted without forwarding state for the family' : 'peer came back without graceful restart');
    if (up.purged.length) this.changed(p.rib.address);
  }

  /**
   * A session went down. RFC 4724 helper: routes of a peer that advertised GR survive a TCP
   * failure, and with the N bit (RFC 8538) any NOTIFICATION but Hard Reset (`keepRoutes`).
   */
  sessionDown(p: Peer, keepRoutes: boolean, reason: string): void {
    const down = this.rib.sessionDown(p.rib, keepRoutes);
    if ('staleTimerMs' in down) {
      this.log.info({ peer: p.config.address, restartTime: down.staleTimerMs / 1000, routes: down.routes }, 'peer restarting: keeping its routes as stale');
      this.setStaleTimer(p, down.staleTimerMs, 'restart time expired');
    } else this.log.info({ peer: p.config.address, reason }, 'dropping routes of peer');
    this.changed(p.rib.address);
  }

  /** Logs stale routes a GR step dropped, and stops the stale timer once none remain. */
  logPurge(p: Peer, x: Purge, why: string): void {
    if (!p.rib.helping && p.staleTimer) this.setStaleTimer(p, undefined, why);
    if (x.routes) {
      this.log.info({ peer: p.config.address, routes: x.routes, why, ...(x.family ? { family: x.family } : {}) }, 'purging stale routes');
      this.changed(p.rib.address);
    }
  }

  /** (Re)arms the helper's stale timer (undefined: stops it). */
  setStaleTimer(p: Peer, ms: number | undefined, why: string): void {
    if (p.staleTimer) clearTimeout(p.staleTimer);
    p.staleTimer = undefined;
    if (ms === undefined) return;
    p.staleTimer = setTimeout(() => this.logPurge(p, this.rib.purgeStale(p.rib), why), ms);
    p.staleTimer.unref();
  }
}
