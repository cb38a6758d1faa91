// tortie-rr configuration from the environment, with calico/routereflector's names: IP (required),
// IP6, CLUSTER_ID, AS, NODENAME, plus the datastore variables (ETCD_ENDPOINTS, ETCD_*_FILE, read by
// datastore/config) and Tortie's own TORTIE_GOBGP_API_HOSTS and TORTIE_MRAI_MS. Pure: returns the
// config or every error, each naming its variable.
import { isIP } from 'node:net';
import { apiHosts, parseAsEnv, type Env } from '../node/env.js';

export interface RrConfig {
  nodename: string;
  /** IPv4 address (no prefix length): router id, listen address, spec.bgp.ipv4Address. */
  ip: string;
  ip6?: string;
  clusterId: string;
  asNumber?: number;
  labels: Record<string, string>;
  /** TORTIE_GOBGP_API_HOSTS ([] = off). */
  gobgpApiHosts: string[];
  /** TORTIE_MRAI_MS: the minimum route advertisement interval towards each update group, ms. */
  mraiMs: number;
  logLevel: string;
}

export type RrParseResult = { ok: true; config: RrConfig } | { ok: false; errors: string[] };

/**
 * The reflector's default minimum route advertisement interval. A change after a quiet spell goes
 * out at once; changes arriving within 50 ms of the last batch wait for it and go out together.
 * When many nodes announce their blocks at once, each client then gets one UPDATE per 50 ms
 * instead of one per arriving block: measured with 1,000 clients × one /26, the reflector's CPU
 * fell from 5.7–6.2 s to 1.2–1.3 s (BIRD, which sends each at once: 3.0–3.1 s) and the clients
 * converged sooner. RFC 4271 suggests 5 s between iBGP advertisements; 0 sends every batch at once.
 */
export const RR_DEFAULT_MRAI_MS = 50;

/**
 * The Node options tortie-rr runs with: images/rr's wrapper, bin/tortie-rr, the lab and
 * bench/rr-race all pass these (a test holds the image and the bin to them). V8's young
 * generation, at its default of two 16 MB semi-spaces, was most of what a reflector's RSS gained
 * past its table: at 4 MB, peak RSS with 1,000 clients × one /26 fell from 113–115 to 87 MB, with
 * the CPU of the fan-in and Kubernetes shapes unchanged within the runs' spread, and churn and
 * withdraw-all 0.06–0.13 s more (the round run at the same load). 2 MB saved little more memory and cost clearly more CPU (README,
 * "A 4 MB young generation").
 */
export const RR_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4'];

/** The route-reflector label nodes select with `peerSelector: route-reflector == 'true'`. */
export const RR_LABEL = 'route-reflector';

function address(env: Env, name: 'IP' | 'IP6', family: 4 | 6, errors: string[]): string | undefined {
  const v = env[name]?.trim();
  if (!v) return undefined;
  const a = v.split('/')[0] ?? '';
  if (isIP(a) !== family) {
    errors.push(`${name}: "${v}" is not an IPv${family} address`);
    return undefined;
  }
  return a;
}

export function parseRrEnv(env: Env): RrParseResult {
  const errors: string[] = [];
  const ip = address(env, 'IP', 4, errors);
  if (!env.IP?.trim()) errors.push('IP: required — the IPv4 address this route reflector peers from (e.g. IP=10.0.0.100)');
  const ip6 = address(env, 'IP6', 6, errors);
  // Cluster ids are dotted quads on the wire (RFC 4456 CLUSTER_ID is 4 octets).
  const clusterId = env.CLUSTER_ID?.trim() || ip || '';
  if (env.CLUSTER_ID?.trim() && isIP(clusterId) !== 4) errors.push(`CLUSTER_ID: "${clusterId}" must be a dotted quad like 244.0.0.1`);
  const asNumber = parseAsEnv(env, errors);
  const gobgpApiHosts = apiHosts(env, errors);
  const mraiText = env.TORTIE_MRAI_MS?.trim();
  const mraiMs = mraiText ? Number(mraiText) : RR_DEFAULT_MRAI_MS;
  if ((mraiText && !/^\d+$/.test(mraiText)) || mraiMs > 60_000) errors.push(`TORTIE_MRAI_MS: "${mraiText}" must be whole milliseconds from 0 to 60000`);
  // Several reflectors may share one host's name (namespaces, one VM): default to one per address.
  const nodename = (env.NODENAME?.trim() || (ip ? `rr-${ip.replace(/\./g, '-')}` : '')).toLowerCase();
  if (nodename && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(nodename)) errors.push(`NODENAME: "${nodename}" is not a valid node name (lower-case letters, digits, '-' and '.')`);
  if (errors.length || !ip) return { ok: false, errors };
  return {
    ok: true,
    config: {
      nodename,
      ip,
      ...(ip6 ? { ip6 } : {}),
      clusterId,
      ...(asNumber !== undefined ? { asNumber } : {}),
      labels: { [RR_LABEL]: 'true' },
      gobgpApiHosts,
      mraiMs,
      logLevel: (env.LOG_LEVEL ?? 'info').trim().toLowerCase(),
    },
  };
}
