// Is this start a graceful restart? Pure: decided from the routes found in the kernel at start.
// felix never flushes on stop (SIGTERM) and a SIGKILL cannot, so routes with our protocol number in
// the main table mean the forwarding state of the previous run is still in place and still carrying
// traffic. Then the BGP speaker restarts as RFC 4724's restarting speaker (R bit, F per family whose
// routes survived, selection deferred until End-of-RIB) and felix keeps those routes until BGP has
// re-learned them. Without them (first start, or a reboot emptied the kernel) it is a cold start:
// neither bit, and peers drop whatever they still hold from us at once.
import { TORTIE_PROTO } from '../felix/dataplane/netlink-codec.js';

const MAIN_TABLE = 254;

export interface RouteSeen {
  family: 4 | 6;
  protocol: number;
  table: number;
}

export interface RestartDecision {
  restarting: boolean;
  /** Families with forwarding state kept (their F bit); empty on a cold start. */
  forwardingFamilies: Array<4 | 6>;
  /** For the log line. */
  reason: string;
}

export function detectRestart(backend: 'bird' | 'vxlan' | 'none', routes: readonly RouteSeen[]): RestartDecision {
  if (backend !== 'bird') return { restarting: false, forwardingFamilies: [], reason: `networking backend ${backend}: no BGP speaker` };
  const ours = routes.filter((r) => r.protocol === TORTIE_PROTO && r.table === MAIN_TABLE);
  const count = (f: 4 | 6): number => ours.filter((r) => r.family === f).length;
  const forwardingFamilies = ([4, 6] as const).filter((f) => count(f) > 0);
  if (!forwardingFamilies.length) return { restarting: false, forwardingFamilies, reason: `no routes with protocol ${TORTIE_PROTO} in the kernel: cold start` };
  return {
    restarting: true,
    forwardingFamilies,
    reason: `${count(4)} IPv4 and ${count(6)} IPv6 routes with protocol ${TORTIE_PROTO} still in the kernel: restarting with forwarding state kept`,
  };
}
