// Reads a speaker peer into the plain snapshot the pure peer converter takes.
import type { Capability } from '../../codec/types.js';
import { DEFAULT_CONNECT_RETRY } from '../../fsm/fsm.js';
import { DEFAULT_HOLD_TIME } from '../../fsm/open.js';
import type { PeerView, Speaker } from '../../speaker/speaker.js';
import type { FamilyCounts, PeerSnapshot } from './peer.js';

export function snapshotOf(v: PeerView, s: Speaker, localCaps: readonly Capability[]): PeerSnapshot {
  const n = v.session.negotiated;
  const fsm = v.session.fsm.config;
  const counts = new Map<4 | 6, FamilyCounts>();
  const families = (s.config.families ?? [4, 6]).filter((f) => !n || n.families.some((x) => x.afi === (f === 4 ? 1 : 2)));
  for (const f of families) counts.set(f, { received: 0, accepted: 0, advertised: 0 });
  // Every path counts, as in gobgpd: with ADD-PATH a prefix may come with several.
  for (const [k, p] of v.rib.adjIn) {
    const c = counts.get(p.family);
    if (!c) continue;
    const n = v.rib.paths.get(k)?.size || 1;
    c.accepted += n;
    c.received += n;
  }
  // Rejected routes (AS loop, cluster loop) are not kept per family: counted with the first one.
  const first = counts.values().next().value;
  if (first) first.received += v.rib.rejected;
  for (const r of s.adjOut(v.rib.address) ?? []) {
    const c = counts.get(r.prefix.family);
    if (c) c.advertised++;
  }
  return {
    address: v.rib.address,
    description: v.config.name ?? '',
    asNumber: v.config.asNumber,
    localAs: s.config.asNumber,
    rrClient: !!v.config.rrClient,
    clusterId: s.config.clusterId ?? s.config.routerId,
    passive: !!v.config.passive,
    adminDown: v.adminDown,
    state: v.session.state,
    sinceMs: v.session.since,
    flops: v.session.flops,
    counters: v.session.counters,
    configuredHoldTime: fsm.holdTime ?? DEFAULT_HOLD_TIME,
    connectRetry: fsm.connectRetryTime ?? DEFAULT_CONNECT_RETRY,
    localAddress: v.session.localAddress,
    remotePort: v.config.port,
    localCaps: n ? n.localOpen.capabilities : localCaps,
    ...(n ? { negotiated: { holdTime: n.holdTime, keepaliveTime: n.keepaliveTime, peerRouterId: n.peerRouterId, remoteCaps: n.remoteOpen.capabilities } } : {}),
    families: [...counts].map(([family, c]) => ({ family, counts: c })),
    queuedBytes: v.session.queuedBytes,
  };
}
