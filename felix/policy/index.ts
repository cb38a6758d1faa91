/**
 * felix/policy — the pure half of network policy (issue 7). No I/O anywhere under this folder.
 *
 * API for the driver / node wiring (stable):
 *   computePolicyState(input: PolicyCalcInput): { v4: PolicyDataplaneState; v6: PolicyDataplaneState }
 *       Full, deterministic render (chains and ipsets sorted by name). Pure.
 *   class PolicyCalculator { update(input: PolicyCalcInput): { v4: PolicyDataplaneState; v6: PolicyDataplaneState } }
 *       Same output as computePolicyState for the same input, but remembers the previous input:
 *       unchanged chains / ipsets are returned as the same objects and only what a change
 *       affects is recomputed. Use one per node agent; feed it the whole input every time.
 *   policyEndpoint(wep: Resource, profiles: Map<name, ProfileInput>): PolicyEndpoint | undefined
 *   policyInput(np_or_gnp: Resource): PolicyInput;  profileInput(profile: Resource): ProfileInput
 *   endpointNode(wep: Resource): string | undefined  (spec.node: local when === hostname)
 *       (felix/policy/endpoints.ts) — datastore resources → PolicyCalcInput pieces.
 *   tracePolicy(model: TraceModel, query: TraceQuery): TraceResult   (felix/policy/trace.ts);
 *       new PolicyTracer(model).trace(q) to reuse one compiled model for many queries.
 *   traceModel(resources) (ctl/commands/policy-trace.ts): datastore lists → TraceModel, pods keyed
 *       "namespace/pod" as `tortiectl policy trace` names them.
 *
 * What the state holds (filter table, per family):
 *   hooks:  FORWARD → `-j cali-FORWARD`; INPUT/OUTPUT only while a host endpoint is local (below).
 *           Workload→host traffic is out of scope (INPUT's own rules decide it).
 *   cali-FORWARD: ctstate RELATED,ESTABLISHED → ACCEPT; INVALID → DROP; clear mark bits
 *           0x30000; `-i cali+ -j cali-from-wl-dispatch`; `-o cali+ -j cali-to-wl-dispatch`;
 *           `-m mark --mark 0x10000/0x10000 -j ACCEPT`. Anything else returns to FORWARD.
 *   cali-from-wl-dispatch / cali-to-wl-dispatch: `-i|-o <iface> -g cali-fw-|cali-tw-<iface>`,
 *           then DROP (unknown cali interface). Calico's prefix tree (dispatch.ts): interfaces
 *           sharing the character after the common prefix go through a child chain
 *           `<root>-<char>` (`-i <prefix>+ -g`), split again past 32 interfaces.
 *   cali-tw-<iface> (ingress) / cali-fw-<iface> (egress): clear marks; per applicable policy
 *           `-m mark --mark 0x0/0x20000 -j cali-pi|po-<policy>` + return if accept mark; if any
 *           policy applied and none passed: DROP; per profile `-j cali-pri|pro-<profile>` +
 *           return if accepted; DROP.
 *   cali-pi-<policy>/cali-po-<policy>: Allow = set 0x10000 + RETURN, Pass = set 0x20000 +
 *           RETURN, Deny = DROP, Log = `-j LOG --log-prefix "calico-packet: " --log-level 5`.
 *           <policy> = name (GlobalNetworkPolicy) or namespace_name (NetworkPolicy).
 *   Chain names ≤ 28 chars: longer ones become prefix + "_" + base64url(SHA-224(suffix)) cut
 *           to 28 (Calico's GetLengthLimitedID scheme) — names.ts.
 *   ipsets: cali40s:/cali60s:<selector id> (hash:net, members "10.65.0.3/32"),
 *           cali40n:/cali60n:<hash> named ports (hash:ip,port, "10.65.0.3,tcp:6379"),
 *           cali40c:/cali60c:<hash> notNets when several or beside a positive net (hash:net).
 *           All ≤ 31 chars.
 *   Host endpoints (felix/policy/host.ts; input.localHostEndpoints, input.failsafe): only when
 *           this host has one, INPUT → cali-INPUT and OUTPUT → cali-OUTPUT are hooked; cali-INPUT /
 *           cali-OUTPUT return for cali+ and lo, accept IP-in-IP and VXLAN (udp 4789), dispatch by
 *           interface (cali-from-host-endpoint / cali-to-host-endpoint → cali-fh- / cali-th-<iface>,
 *           "*" → cali-fh-any-interface-at-all as the fallback) and accept on the accept mark.
 *           cali-fh-/cali-th-: conntrack, clear marks, cali-failsafe-in/out (ACCEPT), policies,
 *           profiles, DROP. cali-FORWARD gains `-j cali-from-hep-forward` (before the workload
 *           dispatch) and `-j cali-to-hep-forward` (after): cali-fhfw-/cali-thfw-<iface> hold the
 *           applyOnForward policies only, empty (no verdict) when there are none.
 *   Rule bodies carry NO comment: the driver stamps `-m comment --comment "cali:<hash>"`
 *   (felix/dataplane/policy-plan.ts). Only policies/profiles used by a local endpoint are rendered.
 */
import { PolicyCalculator } from './calculator.js';
import type { PolicyCalcInput, PolicyDataplaneState } from './types.js';

export { PolicyCalculator } from './calculator.js';
export { policyEndpoint, policyInput, profileInput, endpointKey, endpointNode } from './endpoints.js';
export { ACCEPT_MARK, PASS_MARK, MARK_MASK, LOG_PREFIX } from './render.js';
export { FORWARD_CHAIN, FROM_WL_DISPATCH, TO_WL_DISPATCH, policyChainName, profileChainName, endpointChainName, ipsetName } from './names.js';
export * from './types.js';
export { hostPolicyEndpoint, parseFailsafeEnv, failsafeFromConfig, pickHostEndpoints, unsupportedHostPolicies, withBuiltinProfiles, hostChainName, DEFAULT_FAILSAFE, ALL_INTERFACES, type FailsafePorts, type HostPort } from './host.js';

/** The whole policy dataplane for one host, both families. Pure and deterministic. */
export function computePolicyState(input: PolicyCalcInput): { v4: PolicyDataplaneState; v6: PolicyDataplaneState } {
  return new PolicyCalculator().update(input);
}
