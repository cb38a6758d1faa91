import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSelector } from '../selector/index.js';
import { labelSelectorToCalico, podSelectorToCalico } from './k8s.js';

type Expr = { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] };
type LabelSelector = { matchLabels?: Record<string, string>; matchExpressions?: Expr[] };

const key = fc.constantFrom('app', 'role', 'example.com/tier');
const value = fc.constantFrom('a', 'b', 'c-1', 'x.y');
const expr: fc.Arbitrary<Expr> = fc.oneof(
  fc.record({ key, operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.uniqueArray(value, { minLength: 1, maxLength: 3 }) }),
  fc.record({ key, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
);
const selector: fc.Arbitrary<LabelSelector> = fc.record(
  { matchLabels: fc.dictionary(key, value, { maxKeys: 2 }), matchExpressions: fc.array(expr, { maxLength: 3 }) },
  { requiredKeys: [] },
);
const labels = fc.dictionary(key, value, { maxKeys: 3 });

/** Kubernetes' label-selector semantics, written independently. */
function k8sMatches(sel: LabelSelector, l: Record<string, string>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(l, k);
  return (
    Object.entries(sel.matchLabels ?? {}).every(([k, v]) => has(k) && l[k] === v) &&
    (sel.matchExpressions ?? []).every((e) => {
      switch (e.operator) {
        case 'In':
          return has(e.key) && (e.values ?? []).includes(l[e.key]);
        case 'NotIn':
          return !has(e.key) || !(e.values ?? []).includes(l[e.key]);
        case 'Exists':
          return has(e.key);
        case 'DoesNotExist':
          return !has(e.key);
      }
    })
  );
}

describe('Kubernetes label selector conversion (property)', () => {
  it('the Calico selector selects exactly what Kubernetes would', () => {
    fc.assert(
      fc.property(selector, labels, (sel, l) => {
        expect(compileSelector(labelSelectorToCalico(sel)).matches(l)).toBe(k8sMatches(sel, l));
      }),
      { numRuns: 1000 },
    );
  });
  it('pod selectors additionally require a Kubernetes workload', () => {
    fc.assert(
      fc.property(selector, labels, fc.boolean(), (sel, l, isK8s) => {
        const endpoint = isK8s ? { ...l, 'projectcalico.org/orchestrator': 'k8s' } : l;
        expect(compileSelector(podSelectorToCalico(sel)).matches(endpoint)).toBe(isK8s && k8sMatches(sel, l));
      }),
      { numRuns: 1000 },
    );
  });
});
