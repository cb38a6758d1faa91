// The kind registry: canonical kinds, their key-path plurals, command-line aliases, scope,
// name rules and spec schemas.
import {
  bgpConfigurationSpecSchema,
  bgpFilterSpecSchema,
  bgpPeerSpecSchema,
  defaultBGPConfiguration,
  type BGPConfigurationSpec,
  type BGPFilterSpec,
  type BGPPeerSpec,
} from './bgp.js';
import { hostEndpointSpecSchema, workloadEndpointSpecSchema, type HostEndpointSpec, type WorkloadEndpointSpec } from './endpoints.js';
import { felixConfigurationSpecSchema, type FelixConfigurationSpec } from './felix.js';
import { isDns1123Subdomain } from './fields.js';
import {
  blockAffinitySpecSchema,
  ipamBlockSpecSchema,
  ipamConfigSpecSchema,
  ipamHandleSpecSchema,
  type BlockAffinitySpec,
  type IPAMBlockSpec,
  type IPAMConfigSpec,
  type IPAMHandleSpec,
} from './ipam.js';
import { ipPoolSpecSchema, type IPPoolSpec } from './ippool.js';
import { ipReservationSpecSchema, type IPReservationSpec } from './ipreservation.js';
import { nodeSpecSchema, type NodeSpec } from './node.js';
import {
  globalNetworkPolicySpecSchema,
  networkPolicySpecSchema,
  profileSpecSchema,
  type GlobalNetworkPolicySpec,
  type NetworkPolicySpec,
  type ProfileSpec,
} from './policy.js';
import type { KindInfo, Resource } from './resource.js';

/** Returns why a name is not allowed for the kind, or undefined when it is fine. */
export type NameRule = (name: string) => string | undefined;

const subdomain: NameRule = (n) =>
  isDns1123Subdomain(n) ? undefined : `${JSON.stringify(n)} is not a valid name: lower-case alphanumerics, '-' and '.', starting and ending alphanumeric, at most 253 characters`;

// Profiles ("kns.default", "ksa.ns.sa") and workload endpoints ("node-k8s-pod--x-eth0") are
// generated from other names, so Calico allows a wider alphabet.
const relaxed: NameRule = (n) =>
  /^[a-zA-Z0-9_.-]{1,253}$/.test(n) ? undefined : `${JSON.stringify(n)} is not a valid name: alphanumerics, '_', '-' and '.', at most 253 characters`;

const onlyDefault: NameRule = (n) => (n === 'default' ? undefined : `the only allowed name is "default" (got ${JSON.stringify(n)})`);

export interface KindDef<S = unknown> extends KindInfo<S> {
  nameRule: NameRule;
  /** Defaults that depend on the resource name (e.g. BGPConfiguration "default"). */
  finalize?: (name: string, spec: S) => S;
}

function def<S>(d: KindDef<S>): KindDef<S> {
  return d;
}

export const KINDS = {
  IPPool: def<IPPoolSpec>({ kind: 'IPPool', plural: 'ippools', aliases: ['ippool'], namespaced: false, specSchema: ipPoolSpecSchema, nameRule: subdomain }),
  BGPPeer: def<BGPPeerSpec>({ kind: 'BGPPeer', plural: 'bgppeers', aliases: ['bgppeer'], namespaced: false, specSchema: bgpPeerSpecSchema, nameRule: subdomain }),
  BGPConfiguration: def<BGPConfigurationSpec>({
    kind: 'BGPConfiguration',
    plural: 'bgpconfigurations',
    aliases: ['bgpconfiguration', 'bgpconfig', 'bgpconfigs'],
    namespaced: false,
    specSchema: bgpConfigurationSpecSchema,
    nameRule: subdomain,
    finalize: defaultBGPConfiguration,
  }),
  BGPFilter: def<BGPFilterSpec>({ kind: 'BGPFilter', plural: 'bgpfilters', aliases: ['bgpfilter'], namespaced: false, specSchema: bgpFilterSpecSchema, nameRule: subdomain }),
  Node: def<NodeSpec>({ kind: 'Node', plural: 'nodes', aliases: ['node', 'no'], namespaced: false, specSchema: nodeSpecSchema, nameRule: subdomain }),
  FelixConfiguration: def<FelixConfigurationSpec>({
    kind: 'FelixConfiguration',
    plural: 'felixconfigurations',
    aliases: ['felixconfiguration', 'felixconfig', 'felixconfigs'],
    namespaced: false,
    specSchema: felixConfigurationSpecSchema,
    nameRule: subdomain,
  }),
  NetworkPolicy: def<NetworkPolicySpec>({
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    aliases: ['networkpolicy', 'policy', 'policies', 'pol', 'netpol', 'netpols', 'np'],
    namespaced: true,
    specSchema: networkPolicySpecSchema,
    nameRule: subdomain,
  }),
  GlobalNetworkPolicy: def<GlobalNetworkPolicySpec>({
    kind: 'GlobalNetworkPolicy',
    plural: 'globalnetworkpolicies',
    aliases: ['globalnetworkpolicy', 'globalpolicy', 'globalpolicies', 'gnp', 'gnps'],
    namespaced: false,
    specSchema: globalNetworkPolicySpecSchema,
    nameRule: subdomain,
  }),
  Profile: def<ProfileSpec>({ kind: 'Profile', plural: 'profiles', aliases: ['profile', 'pro', 'pros'], namespaced: false, specSchema: profileSpecSchema, nameRule: relaxed }),
  HostEndpoint: def<HostEndpointSpec>({
    kind: 'HostEndpoint',
    plural: 'hostendpoints',
    aliases: ['hostendpoint', 'hep', 'heps'],
    namespaced: false,
    specSchema: hostEndpointSpecSchema,
    nameRule: subdomain,
  }),
  WorkloadEndpoint: def<WorkloadEndpointSpec>({
    kind: 'WorkloadEndpoint',
    plural: 'workloadendpoints',
    aliases: ['workloadendpoint', 'wep', 'weps'],
    namespaced: true,
    specSchema: workloadEndpointSpecSchema,
    nameRule: relaxed,
  }),
  IPAMBlock: def<IPAMBlockSpec>({ kind: 'IPAMBlock', plural: 'ipamblocks', aliases: ['ipamblock'], namespaced: false, specSchema: ipamBlockSpecSchema, nameRule: subdomain }),
  BlockAffinity: def<BlockAffinitySpec>({
    kind: 'BlockAffinity',
    plural: 'blockaffinities',
    aliases: ['blockaffinity'],
    namespaced: false,
    specSchema: blockAffinitySpecSchema,
    nameRule: subdomain,
  }),
  IPAMHandle: def<IPAMHandleSpec>({ kind: 'IPAMHandle', plural: 'ipamhandles', aliases: ['ipamhandle'], namespaced: false, specSchema: ipamHandleSpecSchema, nameRule: relaxed }),
  IPAMConfig: def<IPAMConfigSpec>({
    kind: 'IPAMConfig',
    plural: 'ipamconfigs',
    aliases: ['ipamconfig', 'ipamconfiguration', 'ipamconfigurations'],
    namespaced: false,
    specSchema: ipamConfigSpecSchema,
    nameRule: onlyDefault,
  }),
  IPReservation: def<IPReservationSpec>({
    kind: 'IPReservation',
    plural: 'ipreservations',
    aliases: ['ipreservation'],
    namespaced: false,
    specSchema: ipReservationSpecSchema,
    nameRule: subdomain,
  }),
} as const;

export type KindName = keyof typeof KINDS;
type SpecOf<K extends KindName> = (typeof KINDS)[K] extends KindDef<infer S> ? S : never;
export type ResourceOf<K extends KindName> = Resource<K, SpecOf<K>>;

export type IPPool = ResourceOf<'IPPool'>;
export type BGPPeer = ResourceOf<'BGPPeer'>;
export type BGPConfiguration = ResourceOf<'BGPConfiguration'>;
export type BGPFilter = ResourceOf<'BGPFilter'>;
export type CalicoNode = ResourceOf<'Node'>;
export type FelixConfiguration = ResourceOf<'FelixConfiguration'>;
export type NetworkPolicy = ResourceOf<'NetworkPolicy'>;
export type GlobalNetworkPolicy = ResourceOf<'GlobalNetworkPolicy'>;
export type Profile = ResourceOf<'Profile'>;
export type HostEndpoint = ResourceOf<'HostEndpoint'>;
export type WorkloadEndpoint = ResourceOf<'WorkloadEndpoint'>;
export type IPAMBlock = ResourceOf<'IPAMBlock'>;
export type BlockAffinity = ResourceOf<'BlockAffinity'>;
export type IPAMHandle = ResourceOf<'IPAMHandle'>;
export type IPAMConfig = ResourceOf<'IPAMConfig'>;
export type IPReservation = ResourceOf<'IPReservation'>;

export const ALL_KINDS: readonly KindDef[] = Object.values(KINDS) as readonly KindDef[];

const BY_NAME = new Map<string, KindDef>();
for (const k of ALL_KINDS) {
  for (const n of [k.kind.toLowerCase(), k.plural, ...k.aliases]) BY_NAME.set(n, k);
}

/**
 * Finds a kind by canonical name, plural or short form, case-insensitively. Also takes the
 * kubectl-style qualified forms "ippools.projectcalico.org" and "ippool.p".
 */
export function lookupKind(nameOrAlias: string): KindDef | undefined {
  const n = nameOrAlias
    .trim()
    .toLowerCase()
    .replace(/\.(projectcalico\.org|p)$/, '');
  return BY_NAME.get(n);
}

/** The canonical kind for an exact or differently-cased kind name (not aliases). */
export function kindByName(kind: string): KindDef | undefined {
  return (KINDS as Record<string, KindDef>)[kind];
}

