// Contract between felix's pure policy renderer (felix/policy/render*.ts, calc*.ts) and the
// iptables/ipset driver (felix/dataplane/policy-*.ts). Plain data so both sides test alone.

/** One local workload endpoint as policy sees it: its labels already merged with the namespace's
 *  (`pcns.`-prefixed) and the profile ids it carries (kns.<namespace>, ksa.… as Calico does). */
export interface PolicyEndpoint {
  /** Unique key, "namespace/pod" or the WorkloadEndpoint name. */
  key: string;
  /** Host-side interface, "cali1234567890a". */
  iface: string;
  namespace: string;
  /** Addresses in CIDR form, "10.65.0.3/32". */
  ipNetworks: string[];
  labels: Readonly<Record<string, string>>;
  profiles: readonly string[];
  /** Named ports declared on the endpoint (WorkloadEndpoint spec.ports). */
  ports?: readonly { name: string; protocol: string; port: number }[];
  serviceAccount?: string;
}

export type IpsetType = 'hash:net' | 'hash:ip,port';

export interface IpsetSpec {
  /** Kernel name, ≤ 31 characters, e.g. "cali40s:" + hashed selector id (Calico's naming). */
  name: string;
  type: IpsetType;
  family: 'inet' | 'inet6';
  /** Sorted, de-duplicated members: "10.65.0.3/32" or "10.65.0.3,tcp:6379". */
  members: string[];
}

/** A chain we own: its name (≤ 28 characters, hashed when longer) and rule bodies in
 *  iptables-restore syntax without the "-A <chain>" prefix, e.g.
 *  `-m set --match-set cali40s:abc src -p tcp --dport 6379 -m comment --comment "..." -j ACCEPT`. */
export interface ChainSpec {
  name: string;
  rules: string[];
}

/** A jump the driver must keep at the top of a built-in chain of the filter table,
 *  e.g. { builtin: 'FORWARD', rule: '-j cali-FORWARD' } — inserted once, never duplicated. */
export interface HookSpec {
  builtin: 'FORWARD' | 'INPUT' | 'OUTPUT';
  rule: string;
}

/** Everything the policy dataplane should hold for one IP family (filter table only). */
export interface PolicyDataplaneState {
  family: 4 | 6;
  ipsets: Map<string, IpsetSpec>;
  chains: Map<string, ChainSpec>;
  hooks: HookSpec[];
}

/** Prefix of every chain and ipset we own: the driver finds and reconciles ours by it. */
export const CHAIN_PREFIX = 'cali-';
export const IPSET_PREFIX = 'cali40';
export const MAX_CHAIN_NAME = 28;
export const MAX_IPSET_NAME = 31;

/** One policy as the renderer sees it: a validated NetworkPolicy (namespace set) or
 *  GlobalNetworkPolicy (namespace undefined) — spec exactly as datastore/model normalizes it. */
export interface PolicyInput {
  name: string;
  namespace?: string;
  spec: import('../../datastore/model/policy.js').GlobalNetworkPolicySpec | import('../../datastore/model/policy.js').NetworkPolicySpec;
}

export interface ProfileInput {
  name: string;
  spec: import('../../datastore/model/policy.js').ProfileSpec;
}

/** Input of the pure renderer: `computePolicyState(input)` in felix/policy/index.ts returns
 *  `{ v4: PolicyDataplaneState; v6: PolicyDataplaneState }`. */
export interface PolicyCalcInput {
  hostname: string;
  /** This host's workload endpoints (policy is enforced where the endpoint lives). */
  localEndpoints: readonly PolicyEndpoint[];
  /** Every endpoint in the cluster: selectors in rules match remote endpoints' addresses too. */
  allEndpoints: readonly PolicyEndpoint[];
  policies: readonly PolicyInput[];
  profiles: readonly ProfileInput[];
  /** This host's host endpoints (iface = interfaceName, or "*" for all interfaces; key
   *  "hep:<name>", no namespace). Their expectedIPs go into allEndpoints as well, so selectors
   *  in rules match them. None: no INPUT/OUTPUT hooks at all (felix/policy/host.ts). */
  localHostEndpoints?: readonly PolicyEndpoint[];
  /** Every node's addresses ("10.0.0.11/24" or plain): IP-in-IP / VXLAN from and to them crosses
   *  host endpoints (the cali40h:all-hosts set). None: encapsulation is up to policy. */
  hostAddresses?: readonly string[];
  /** Failsafe ports of host endpoints; Calico's defaults (host.ts DEFAULT_FAILSAFE) when absent. */
  failsafe?: import('./host.js').FailsafePorts;
}
