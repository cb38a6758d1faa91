// tortie-controllers configuration from the environment, with calico-kube-controllers' names:
// ENABLED_CONTROLLERS, DATASTORE_TYPE + KUBECONFIG or ETCD_* (read by datastore/config), LOG_LEVEL.
// Tortie's own: LEAK_GRACE_PERIOD (Calico's KubeControllersConfiguration
// spec.controllers.node.leakGracePeriod, which Tortie's model does not carry), RECONCILE_PERIOD,
// TORTIE_HEALTH_HOST/PORT and PROMETHEUS_METRICS_PORT. Pure: the config or every error, each naming its variable.
import type { Env } from '../node/env.js';

/** Every controller calico-kube-controllers knows, in its spelling. */
export const KNOWN_CONTROLLERS = ['node', 'namespace', 'policy', 'serviceaccount', 'workloadendpoint', 'loadbalancer'] as const;
export type ControllerName = (typeof KNOWN_CONTROLLERS)[number];
/** The ones Tortie implements; the others are accepted (Calico's manifests name them) with a warning. */
export const IMPLEMENTED_CONTROLLERS: readonly ControllerName[] = ['node', 'policy', 'namespace', 'serviceaccount', 'workloadendpoint'];
/** Needed on etcd only: on the Kubernetes datastore Calico reads these from the API directly. */
export const ETCD_ONLY_CONTROLLERS: readonly ControllerName[] = ['policy', 'namespace', 'serviceaccount', 'workloadendpoint'];

export interface ControllersConfig {
  enabled: ControllerName[];
  /** 0 turns leak collection off, as leakGracePeriod: 0 does in Calico. */
  leakGraceMs: number;
  reconcilePeriodMs: number;
  healthHost: string;
  healthPort: number;
  /** 0 = no metrics endpoint. */
  metricsPort: number;
  logLevel: string;
}

export type ControllersParseResult = { ok: true; config: ControllersConfig; warnings: string[] } | { ok: false; errors: string[] };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as Calico writes them ("15m", "1h30m", "90s", "0"); undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2]] ?? 0);
    pos = re.lastIndex;
  }
  return pos > 0 ? Math.round(total) : undefined;
}

function duration(env: Env, name: string, fallbackMs: number, errors: string[]): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') return fallbackMs;
  const ms = parseDuration(v);
  if (ms === undefined) errors.push(`${name}: "${v}" is not a duration like 15m, 90s or 1h30m`);
  return ms ?? fallbackMs;
}

function port(env: Env, name: string, fallback: number, errors: string[]): number {
  const v = env[name]?.trim();
  if (!v) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) errors.push(`${name}: "${v}" is not a port number (0-65535)`);
  return n;
}

export function parseControllersEnv(env: Env): ControllersParseResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const names = (env.ENABLED_CONTROLLERS ?? 'node')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const enabled: ControllerName[] = [];
  for (const n of names) {
    if (!(KNOWN_CONTROLLERS as readonly string[]).includes(n)) {
      errors.push(`ENABLED_CONTROLLERS: unknown controller "${n}"; known: ${KNOWN_CONTROLLERS.join(', ')}`);
    } else if (!IMPLEMENTED_CONTROLLERS.includes(n as ControllerName)) {
      warnings.push(`ENABLED_CONTROLLERS: controller "${n}" is not implemented by tortie-controllers yet and is ignored (implemented: ${IMPLEMENTED_CONTROLLERS.join(', ')})`);
    } else if (!enabled.includes(n as ControllerName)) enabled.push(n as ControllerName);
  }
  const config: ControllersConfig = {
    enabled,
    leakGraceMs: duration(env, 'LEAK_GRACE_PERIOD', 15 * 60_000, errors),
    reconcilePeriodMs: duration(env, 'RECONCILE_PERIOD', 5 * 60_000, errors),
    healthHost: env.TORTIE_HEALTH_HOST?.trim() || '0.0.0.0',
    healthPort: port(env, 'TORTIE_HEALTH_PORT', 9095, errors),
    metricsPort: port(env, 'PROMETHEUS_METRICS_PORT', 9094, errors),
    logLevel: (env.LOG_LEVEL ?? 'info').trim().toLowerCase(),
  };
  if (config.reconcilePeriodMs <= 0 && !errors.some((e) => e.startsWith('RECONCILE_PERIOD'))) errors.push('RECONCILE_PERIOD: must be longer than 0');
  return errors.length ? { ok: false, errors } : { ok: true, config, warnings };
}
