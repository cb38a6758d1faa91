// `tortiectl policy trace --from POD|IP --to POD|IP [--port P] [--protocol tcp|udp|icmp|…]`: the
// verdict network policy gives a new connection, computed from the datastore model alone (the
// same compiled rules felix renders into iptables), with the policy and rule that decided it.
// POD is namespace/name, or name with -n. Bad flags exit 2, a pod the datastore does not hold 1
// (the README's rule: 2 is for usage only); the verdict itself, allow or deny, exits 0.
import type { Command } from 'commander';
import { parseIP } from '../../datastore/model/net.js';
import type { Resource } from '../../datastore/model/resource.js';
import { policyEndpoint, policyInput, profileInput } from '../../felix/policy/endpoints.js';
import { PolicyTracer, TraceError, type DirectionVerdict, type TraceHostEndpoint, type TraceModel, type TracePeer, type TraceQuery, type TraceResult } from '../../felix/policy/trace.js';
import { failsafePorts, hostPolicyEndpoint, withBuiltinProfiles } from '../../felix/policy/host.js';
import type { FelixConfigurationSpec } from '../../datastore/model/felix.js';
import type { HostEndpointSpec } from '../../datastore/model/endpoints.js';
import type { PolicyEndpoint } from '../../felix/policy/types.js';
import type { CtlContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';

export interface PolicyTraceResources {
  workloadEndpoints: Resource[];
  networkPolicies: Resource[];
  globalNetworkPolicies: Resource[];
  profiles: Resource[];
  /** Host endpoints and FelixConfigurations (their failsafe ports); none when absent. */
  hostEndpoints?: Resource[];
  felixConfigurations?: Resource[];
}

export interface PolicyTraceDeps {
  load(): Promise<PolicyTraceResources>;
  write(text: string): void;
}

export interface PolicyTraceOptions {
  from: string;
  to: string;
  port?: string;
  protocol: string;
  namespace: string;
  sourcePort?: string;
  icmpType?: string;
  icmpCode?: string;
  output: string;
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136 };
const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

function parseProtocol(p: string): number {
  const n = /^\d+$/.test(p) ? Number(p) : PROTOCOLS[p.toLowerCase()];
  if (n === undefined || n < 1 || n > 255) throw new UsageError(`--protocol: ${JSON.stringify(p)} is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1–255)`);
  return n;
}

function parseNumber(flag: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag}: ${JSON.stringify(v)} is not a number from ${min} to ${max}`);
  return Number(v);
}

/** Model keys are "namespace/pod" (the WorkloadEndpoint name when a pod has several), and
 *  "hostendpoint/<name>" for host endpoints with an interfaceName (the ones felix enforces). */
export function traceModel(r: PolicyTraceResources): TraceModel {
  const profiles = withBuiltinProfiles(r.profiles.map(profileInput));
  const byName = new Map(profiles.map((p) => [p.name, p]));
  const eps: { ep: PolicyEndpoint; podKey?: string }[] = [];
  for (const w of r.workloadEndpoints) {
    const ep = policyEndpoint(w, byName);
    const pod = (w.spec as { pod?: string }).pod;
    if (ep) eps.push({ ep, podKey: pod ? `${ep.namespace}/${pod}` : undefined });
  }
  const count = new Map<string, number>();
  for (const e of eps) if (e.podKey) count.set(e.podKey, (count.get(e.podKey) ?? 0) + 1);
  const endpoints = eps.map(({ ep, podKey }) => (podKey && count.get(podKey) === 1 ? { ...ep, key: podKey } : ep));
  const configs = (r.felixConfigurations ?? []).map((c) => ({ name: c.metadata.name, spec: c.spec as FelixConfigurationSpec }));
  const hostEndpoints: TraceHostEndpoint[] = (r.hostEndpoints ?? [])
    .filter((h) => (h.spec as HostEndpointSpec).interfaceName)
    .map((h) => ({ ep: { ...hostPolicyEndpoint(h, byName), key: `hostendpoint/${h.metadata.name}` }, failsafe: failsafePorts({}, configs, (h.spec as HostEndpointSpec).node ?? '').ports }));
  return { endpoints, profiles, policies: [...r.networkPolicies, ...r.globalNetworkPolicies].map(policyInput), ...(hostEndpoints.length ? { hostEndpoints } : {}) };
}

type PeerArg = { ip: string } | { key: string; byName: boolean };

/** The syntax of --from / --to, checked before the datastore is read. */
function peerArg(flag: string, v: string, namespace: string): PeerArg {
  if (!v.trim()) throw new UsageError(`${flag}: empty; give a pod (namespace/name, or name with -n) or an IP address`);
  if (parseIP(v)) return { ip: v };
  if (/^[\d.:/]+$/.test(v)) throw new UsageError(`${flag}: ${JSON.stringify(v)} is not a valid IP address`);
  const parts = v.split('/');
  if (parts.length > 2 || parts.some((p) => !p)) throw new UsageError(`${flag}: ${JSON.stringify(v)} is neither namespace/name nor an IP address`);
  return { key: parts.length === 2 ? v : `${namespace}/${v}`, byName: parts.length === 1 };
}

function resolvePeer(flag: string, a: PeerArg, namespace: string, model: TraceModel): TracePeer {
  if ('ip' in a) return { ip: a.ip };
  if (!model.endpoints.some((e) => e.key === a.key) && !model.hostEndpoints?.some((h) => h.ep.key === a.key)) {
    throw new CliError(`${flag}: no workload endpoint for pod ${a.key} in the datastore${a.byName ? ` (namespace ${namespace}; use namespace/name or -n)` : ''}`);
  }
  return { endpoint: a.key };
}

interface ParsedFlags {
  from: PeerArg;
  to: PeerArg;
  rest: Omit<TraceQuery, 'from' | 'to'>;
}

/** Every flag checked without the datastore, so a typo never waits on the network. */
export function parseFlags(o: PolicyTraceOptions): ParsedFlags {
  const protocol = parseProtocol(o.protocol);
  const port = parseNumber('--port', o.port, 1, 65535);
  const sourcePort = parseNumber('--source-port', o.sourcePort, 1, 65535);
  const hasPorts = PORT_PROTOCOLS.has(protocol);
  if (hasPorts && port === undefined) throw new UsageError(`--port is required with --protocol ${o.protocol}`);
  if (!hasPorts && (port !== undefined || sourcePort !== undefined)) throw new UsageError(`--port and --source-port only go with tcp, udp, sctp or udplite (not ${o.protocol})`);
  const icmpType = parseNumber('--icmp-type', o.icmpType, 0, 254);
  const icmpCode = parseNumber('--icmp-code', o.icmpCode, 0, 255);
  const isIcmp = protocol === 1 || protocol === 58;
  if (!isIcmp && (icmpType !== undefined || icmpCode !== undefined)) throw new UsageError('--icmp-type and --icmp-code only go with --protocol icmp or icmpv6');
  if (icmpCode !== undefined && icmpType === undefined) throw new UsageError('--icmp-code needs --icmp-type');
  if (!['table', 'json'].includes(o.output)) throw new UsageError(`-o: unknown output format ${JSON.stringify(o.output)} (use table or json)`);
  const rest: ParsedFlags['rest'] = { protocol };
  if (port !== undefined) rest.port = port;
  if (sourcePort !== undefined) rest.sourcePort = sourcePort;
  if (icmpType !== undefined) rest.icmp = { type: icmpType, code: icmpCode ?? 0 };
  return { from: peerArg('--from', o.from, o.namespace), to: peerArg('--to', o.to, o.namespace), rest };
}

export function buildQuery(o: PolicyTraceOptions, model: TraceModel, flags: ParsedFlags = parseFlags(o)): TraceQuery {
  return { from: resolvePeer('--from', flags.from, o.namespace, model), to: resolvePeer('--to', flags.to, o.namespace, model), ...flags.rest };
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

function describeStep(s: DirectionVerdict): string {
  const where = `${s.direction} at ${s.endpoint}`;
  const passed = s.passedBy ? `policy ${s.passedBy.policy} rule ${s.passedBy.ruleIndex} passed to the profiles` : '';
  switch (s.reason) {
    case 'policy':
      return `${where}: ${s.verdict.toUpperCase()} by policy ${s.policy} rule ${s.ruleIndex} (${s.action})`;
    case 'profile':
      return `${where}: ${s.verdict.toUpperCase()} by profile ${s.profile} rule ${s.ruleIndex} (${s.action}) — ${passed || 'no policy applies in this direction'}`;
    case 'default-deny':
      return `${where}: DENY by default — ${s.policies.length} polic${s.policies.length === 1 ? 'y applies' : 'ies apply'} (${s.policies.join(', ')}) and no rule allowed`;
    case 'no-profile-allowed':
      return `${where}: DENY — ${passed || 'no policy applies'}; no profile rule allowed (profiles drop by default)`;
    case 'failsafe':
      return `${where}: ALLOW by failsafe port ${s.failsafe?.protocol ?? ''}:${s.failsafe?.port ?? ''}${s.failsafe?.net ? ` from/to ${s.failsafe.net}` : ''} (before any policy)`;
  }
}

export function formatTrace(r: TraceResult, q: TraceQuery): string {
  const peer = (p: { ip: string; endpoint?: string }) => (p.endpoint ? `${p.endpoint} (${p.ip})` : p.ip);
  const proto = PROTO_NAMES[q.protocol] ?? String(q.protocol);
  const isIcmp = q.protocol === 1 || q.protocol === 58;
  const icmp = q.icmp ?? { type: r.family === 4 ? 8 : 128, code: 0 };
  const what = q.port !== undefined ? `${proto} port ${q.port}` : isIcmp ? `${proto} type ${icmp.type} code ${icmp.code}` : proto;
  const lines = [`${r.verdict === 'allow' ? 'ALLOW' : 'DENY'}: ${peer(r.source)} → ${peer(r.destination)}, ${what}`];
  if (!r.steps.length) lines.push('  neither side is a workload or host endpoint: network policy does not apply');
  for (const s of r.steps) {
    lines.push(`  ${describeStep(s)}`);
    for (const l of s.logged) lines.push(`    logged by ${l.policy ? `policy ${l.policy}` : `profile ${l.profile}`} rule ${l.ruleIndex}`);
  }
  if (r.source.endpoint && r.steps.length === 1 && r.steps[0].direction === 'egress' && r.destination.endpoint) lines.push(`  ingress at ${r.destination.endpoint}: not reached`);
  if (r.decidedBy) {
    const d = r.decidedBy;
    const who = d.policy ? `policy ${d.policy}, rule ${d.ruleIndex}` : d.profile ? `profile ${d.profile}, rule ${d.ruleIndex}` : d.reason === 'failsafe' ? 'failsafe port' : 'default deny';
    lines.push(`Decided by: ${who} (${d.direction} at ${d.endpoint}${d.chain ? `, chain ${d.chain}` : ''})`);
  }
  return `${lines.join('\n')}\n`;
}

export async function policyTrace(o: PolicyTraceOptions, deps: PolicyTraceDeps): Promise<void> {
  const flags = parseFlags(o);
  const model = traceModel(await deps.load());
  const q = buildQuery(o, model, flags);
  let r: TraceResult;
  try {
    r = new PolicyTracer(model).trace(q);
  } catch (e) {
    if (e instanceof TraceError) throw new CliError(e.message);
    throw e;
  }
  deps.write(o.output === 'json' ? `${JSON.stringify({ query: q, ...r }, null, 2)}\n` : formatTrace(r, q));
}

export function registerPolicyTrace(program: Command, deps: PolicyTraceDeps): void {
  const policy = program.commands.find((c) => c.name() === 'policy') ?? program.command('policy').description('network policy as felix enforces it');
  policy
    .command('trace')
    .description('the verdict network policy gives a new connection, and which policy and rule decided it (from the datastore alone)')
    .usage('--from POD|IP --to POD|IP --port P [--protocol tcp|udp|sctp|udplite] [options]\n   or: tortiectl policy trace --from POD|IP --to POD|IP --protocol icmp|icmpv6|N [options]')
    .requiredOption('--from <pod|ip>', 'source: namespace/name, name (with -n), hostendpoint/NAME or an IP address')
    .requiredOption('--to <pod|ip>', 'destination: namespace/name, name (with -n), hostendpoint/NAME or an IP address')
    .option('--port <port>', 'destination port (required for tcp, the default, and udp, sctp, udplite)')
    .option('--protocol <protocol>', 'tcp, udp, icmp, icmpv6, sctp, udplite or a number', 'tcp')
    .option('-n, --namespace <namespace>', 'namespace of pods given by name alone', 'default')
    .option('--source-port <port>', 'source port (default an ephemeral 40000)')
    .option('--icmp-type <type>', 'ICMP type (default echo request)')
    .option('--icmp-code <code>', 'ICMP code (default 0)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: PolicyTraceOptions) => policyTrace(opts, deps));
}

/** Registry adapter: `RegisterCommand` for ctl/commands/index.ts. */
export function registerPolicyTraceCommand(program: Command, ctx: CtlContext): void {
  registerPolicyTrace(program, {
    load: async () => {
      const client = await ctx.client();
      const [workloadEndpoints, networkPolicies, globalNetworkPolicies, profiles, hostEndpoints, felixConfigurations] = await Promise.all(
        ['WorkloadEndpoint', 'NetworkPolicy', 'GlobalNetworkPolicy', 'Profile', 'HostEndpoint', 'FelixConfiguration'].map(async (k) => (await client.list(k)).items),
      );
      return { workloadEndpoints, networkPolicies, globalNetworkPolicies, profiles, hostEndpoints, felixConfigurations };
    },
    write: (t) => ctx.out.write(t),
  });
}
