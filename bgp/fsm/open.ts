// OPEN construction, OPEN checks (RFC 4271 §6.2, RFC 6793) and capability negotiation.
// Pure: the FSM calls these; the speaker reads the result (families, GR, route refresh).
import { negotiateContext } from '../codec/open.js';
import type { AfiSafi, Capability, NotificationMessage, OpenMessage } from '../codec/types.js';
import type { FsmConfig, NegotiatedSession } from './types.js';

export const AS_TRANS = 23456;
export const DEFAULT_HOLD_TIME = 240;
const IPV4_UNICAST: AfiSafi = { afi: 1, safi: 1 };

function notif(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): NotificationMessage {
  return { type: 'NOTIFICATION', code, subcode, data };
}

export function buildOpen(cfg: FsmConfig): OpenMessage {
  const families = cfg.families ?? [IPV4_UNICAST];
  const caps: Capability[] = families.map((f) => ({ code: 1 as const, afi: f.afi, safi: f.safi }));
  caps.push({ code: 2 }, { code: 65, asn: cfg.localAs });
  const sendReceive = ((cfg.addPathReceive ? 1 : 0) | (cfg.addPathSend ? 2 : 0)) as 1 | 2 | 3;
  if (sendReceive) caps.push({ code: 69, families: families.map((f) => ({ afi: f.afi, safi: f.safi, sendReceive })) });
  if (cfg.gracefulRestart) {
    const gr = cfg.gracefulRestart;
    caps.push({
      code: 64,
      restartFlags: (gr.restarting ? 0x8 : 0) | (gr.notification ? 0x4 : 0),
      restartTime: Math.min(gr.restartTime, 4095),
      families: families.map((f) => ({ afi: f.afi, safi: f.safi, forwardingState: gr.forwardingState && (gr.forwardingAfis?.includes(f.afi) ?? true) })),
    });
  }
  return { type: 'OPEN', version: 4, myAs: cfg.localAs > 0xffff ? AS_TRANS : cfg.localAs, holdTime: cfg.holdTime ?? DEFAULT_HOLD_TIME, bgpId: cfg.routerId, capabilities: caps };
}

function ipv4ToNumber(a: string): number {
  return a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** Lower BGP identifier loses a collision (RFC 4271 §6.8), compared as unsigned 32-bit integers. */
export function compareRouterIds(a: string, b: string): number {
  return Math.sign(ipv4ToNumber(a) - ipv4ToNumber(b));
}

function findCap<C extends number>(caps: readonly Capability[], code: C): Array<Extract<Capability, { code: C }>> {
  return caps.filter((c): c is Extract<Capability, { code: C }> => c.code === code && !('raw' in c));
}

/** The 4-octet AS the peer claims: capability 65 when present, else the 2-octet field. */
export function peerAsOf(open: OpenMessage): number {
  return findCap(open.capabilities, 65)[0]?.asn ?? open.myAs;
}

/** Checks a received OPEN; returns the NOTIFICATION to send when it is unacceptable. */
export function checkOpen(cfg: FsmConfig, open: OpenMessage): { notification: NotificationMessage; reason: string } | undefined {
  if (open.version !== 4) return { notification: notif(2, 1, Buffer.from([0, 4])), reason: `unsupported BGP version ${String(open.version)}` };
  const peerAs = peerAsOf(open);
  if (peerAs !== cfg.peerAs) return { notification: notif(2, 2), reason: `bad peer AS ${peerAs}, expected ${cfg.peerAs}` };
  if (open.myAs === AS_TRANS && findCap(open.capabilities, 65).length === 0 && cfg.peerAs !== AS_TRANS)
    return { notification: notif(2, 2), reason: 'peer sent AS_TRANS without the 4-octet AS capability' };
  if (open.bgpId === '0.0.0.0' || open.bgpId === '255.255.255.255') return { notification: notif(2, 3), reason: `bad BGP identifier ${open.bgpId}` };
  if (peerAs === cfg.localAs && open.bgpId === cfg.routerId)
    return { notification: notif(2, 3), reason: `iBGP peer uses our own BGP identifier ${open.bgpId}` };
  if (open.holdTime === 1 || open.holdTime === 2) {
    return { notification: notif(2, 6), reason: `unacceptable hold time ${open.holdTime}` };
  }
  return undefined;
}

function familiesOf(open: OpenMessage): AfiSafi[] {
  const mp = findCap(open.capabilities, 1);
  // RFC 4760 §8: a speaker without the capability is assumed to do IPv4 unicast only.
  return mp.length ? mp.map((c) => ({ afi: c.afi, safi: c.safi })) : [IPV4_UNICAST];
}

export function negotiate(cfg: FsmConfig, local: OpenMessage, remote: OpenMessage): NegotiatedSession {
  const holdTime = Math.min(local.holdTime, remote.holdTime);
  const theirs = familiesOf(remote);
  const families = familiesOf(local).filter((f) => theirs.some((t) => t.afi === f.afi && t.safi === f.safi));
  const has = (o: OpenMessage, code: number): boolean => o.capabilities.some((c) => c.code === code);
  const ebgp = cfg.peerAs !== cfg.localAs;
  // 4-octet AS and ADD-PATH per family, as the codec negotiates them (no path ids unless both sides agree).
  const codec = { ...negotiateContext(local, remote), ebgp };
  const gr = findCap(remote.capabilities, 64)[0];
  return {
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    peerAs: peerAsOf(remote),
    peerRouterId: remote.bgpId,
    ebgp,
    families,
    routeRefresh: (has(local, 2) || has(local, 128)) && (has(remote, 2) || has(remote, 128)),
    enhancedRouteRefresh: has(local, 70) && has(remote, 70),
    gracefulNotification: ((findCap(local.capabilities, 64)[0]?.restartFlags ?? 0) & 0x4) !== 0 && ((gr?.restartFlags ?? 0) & 0x4) !== 0,
    peerGracefulRestart: gr
      ? { restartTime: gr.restartTime, restarting: (gr.restartFlags & 0x8) !== 0, notification: (gr.restartFlags & 0x4) !== 0, families: gr.families }
      : undefined,
    localOpen: local,
    remoteOpen: remote,
    codec,
  };
}
