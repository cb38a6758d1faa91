import { describe, expect, it } from 'vitest';
import { slowHostEnv, waitBudget } from './state.js';

describe('slow-host scaling', () => {
  it('leaves budgets alone natively and scales them by TORTIE_LAB_WAIT_SCALE', () => {
    expect(waitBudget(90_000, {})).toBe(90_000);
    expect(waitBudget(90_000, { TORTIE_LAB_WAIT_SCALE: '' })).toBe(90_000);
    expect(waitBudget(90_000, { TORTIE_LAB_WAIT_SCALE: '10' })).toBe(900_000);
    expect(waitBudget(500, { TORTIE_LAB_WAIT_SCALE: '2.5' })).toBe(1250);
  });

  it('refuses a scale that is not a positive number, naming the variable', () => {
    for (const bad of ['0', '-1', 'fast', 'Infinity']) expect(() => waitBudget(1000, { TORTIE_LAB_WAIT_SCALE: bad })).toThrow(/TORTIE_LAB_WAIT_SCALE must be a positive number/);
  });

  it('hands agents and plugins a scaled etcd call budget only on a slow host, or the one given', () => {
    expect(slowHostEnv({})).toEqual({});
    expect(slowHostEnv({ TORTIE_LAB_WAIT_SCALE: '1' })).toEqual({});
    expect(slowHostEnv({ TORTIE_LAB_WAIT_SCALE: '10' })).toEqual({ TORTIE_ETCD_CALL_TIMEOUT_MS: '40000' });
    expect(slowHostEnv({ TORTIE_LAB_WAIT_SCALE: '10', TORTIE_ETCD_CALL_TIMEOUT_MS: '7000' })).toEqual({ TORTIE_ETCD_CALL_TIMEOUT_MS: '7000' });
  });
});
