// Runs one trace query through the rendered chains with the interpreter, the way the kernel
// would see the packet: on one host holding every endpoint, or with source and destination on
// hosts of their own (the packet crosses the source host's FORWARD, then the destination's).
import { computePolicyState } from '../index.js';
import { PolicyTracer, type TraceQuery, type TraceResult } from '../trace.js';
import type { PolicyDataplaneState, PolicyEndpoint } from '../types.js';
import type { TraceModel } from '../trace.js';
import { simulateForward, type SimPacket } from './interp.js';

export type Layout = 'one-host' | 'own-hosts';

function packetOf(q: TraceQuery, r: TraceResult, inIf: string, outIf: string): SimPacket {
  const pkt: SimPacket = { src: r.source.ip, dst: r.destination.ip, protocol: q.protocol, in: inIf, out: outIf };
  if ([6, 17, 132, 136].includes(q.protocol)) {
    pkt.sport = q.sourcePort ?? 40000;
    if (q.port !== undefined) pkt.dport = q.port;
  }
  if (q.protocol === (r.family === 4 ? 1 : 58)) pkt.icmp = q.icmp ?? { type: r.family === 4 ? 8 : 128, code: 0 };
  return pkt;
}

const rendered = new WeakMap<TraceModel, Map<string, { v4: PolicyDataplaneState; v6: PolicyDataplaneState }>>();

/** Rendered once per model and set of local endpoints: many queries share it. */
function stateFor(model: TraceModel, local: PolicyEndpoint[], family: 4 | 6): PolicyDataplaneState {
  let byLocal = rendered.get(model);
  if (!byLocal) rendered.set(model, (byLocal = new Map()));
  const key = local.map((e) => e.key).join('\0');
  let s = byLocal.get(key);
  if (!s) byLocal.set(key, (s = computePolicyState({ hostname: 'h', localEndpoints: local, allEndpoints: model.endpoints, policies: model.policies, profiles: model.profiles })));
  return family === 4 ? s.v4 : s.v6;
}

/** The interpreter's verdict for the packet the trace describes. */
export function simulate(model: TraceModel, q: TraceQuery, layout: Layout, tracer = new PolicyTracer(model)): { verdict: 'allow' | 'deny'; trace: TraceResult } {
  const r = tracer.trace(q);
  const src = r.source.endpoint ? tracer.endpoint(r.source.endpoint) : undefined;
  const dst = r.destination.endpoint ? tracer.endpoint(r.destination.endpoint) : undefined;
  const hops: { local: PolicyEndpoint[]; in: string; out: string }[] =
    layout === 'one-host'
      ? [{ local: [...model.endpoints], in: src?.iface ?? 'eth0', out: dst?.iface ?? 'eth0' }]
      : [
          ...(src ? [{ local: [src], in: src.iface, out: 'eth0' }] : []),
          ...(dst ? [{ local: [dst], in: 'eth0', out: dst.iface }] : []),
        ];
  for (const h of hops) {
    const v = simulateForward(stateFor(model, h.local, r.family), packetOf(q, r, h.in, h.out)).verdict;
    if (v === 'DROP') return { verdict: 'deny', trace: r };
  }
  return { verdict: 'allow', trace: r };
}
