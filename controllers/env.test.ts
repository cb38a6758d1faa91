import { describe, expect, it } from 'vitest';
import { parseControllersEnv, parseDuration } from './env.js';

describe('tortie-controllers environment', () => {
  it('defaults to the node controller, a 15 minute leak grace period and Calico’s metrics port', () => {
    const r = parseControllersEnv({});
    expect(r).toMatchObject({ ok: true, warnings: [], config: { enabled: ['node'], leakGraceMs: 15 * 60_000, metricsPort: 9094, healthPort: 9095 } });
  });

  it('accepts Calico’s controller names, warning about those not implemented', () => {
    const r = parseControllersEnv({ ENABLED_CONTROLLERS: 'node, policy,namespace,node,serviceaccount,workloadendpoint,loadbalancer' });
    expect(r.ok && r.config.enabled).toEqual(['node', 'policy', 'namespace', 'serviceaccount', 'workloadendpoint']);
    expect(r.ok && r.warnings).toEqual([expect.stringContaining('"loadbalancer" is not implemented')]);
  });

  it('refuses an unknown controller, naming it and the known ones', () => {
    const r = parseControllersEnv({ ENABLED_CONTROLLERS: 'node,flannelmigrate' });
    expect(r).toEqual({ ok: false, errors: [expect.stringMatching(/^ENABLED_CONTROLLERS: unknown controller "flannelmigrate"; known: node, namespace/)] });
  });

  it('reads LEAK_GRACE_PERIOD as a Go duration and refuses garbage, naming the variable', () => {
    expect(parseControllersEnv({ LEAK_GRACE_PERIOD: '1m30s' })).toMatchObject({ config: { leakGraceMs: 90_000 } });
    expect(parseControllersEnv({ LEAK_GRACE_PERIOD: '0' })).toMatchObject({ config: { leakGraceMs: 0 } });
    expect(parseControllersEnv({ LEAK_GRACE_PERIOD: 'soon', PROMETHEUS_METRICS_PORT: '70000' })).toEqual({
      ok: false,
      errors: ['LEAK_GRACE_PERIOD: "soon" is not a duration like 15m, 90s or 1h30m', 'PROMETHEUS_METRICS_PORT: "70000" is not a port number (0-65535)'],
    });
  });

  it('parses durations', () => {
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h0m0s')).toBe(3_600_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('15')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
