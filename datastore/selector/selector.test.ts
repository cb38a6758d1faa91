import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalSelector,
  compileSelector,
  evaluate,
  namespaceSelectorToEndpointSelector,
  parseSelector,
  printSelector,
  SelectorError,
  type Labels,
  type Selector,
} from './index.js';

const matches = (sel: string, labels: Labels): boolean => compileSelector(sel).matches(labels);

function parseError(sel: string): SelectorError {
  try {
    parseSelector(sel);
  } catch (e) {
    if (e instanceof SelectorError) return e;
    throw e;
  }
  throw new Error(`expected ${sel} to fail`);
}

describe('selector evaluation', () => {
  const labels: Labels = { role: 'db', tier: 'backend', 'app.kubernetes.io/name': 'redis-main' };

  it('== matches an equal label value and nothing else', () => {
    expect(matches("role == 'db'", labels)).toBe(true);
    expect(matches("role == 'web'", labels)).toBe(false);
    expect(matches("missing == 'db'", labels)).toBe(false);
  });
  it('!= matches a different value and an absent label (Calico semantics)', () => {
    expect(matches("role != 'web'", labels)).toBe(true);
    expect(matches("role != 'db'", labels)).toBe(false);
    expect(matches("missing != 'db'", labels)).toBe(true);
  });
  it('in {…} matches a label whose value is in the set', () => {
    expect(matches("role in {'web', 'db'}", labels)).toBe(true);
    expect(matches("role in {'web'}", labels)).toBe(false);
    expect(matches("missing in {'db'}", labels)).toBe(false);
    expect(matches('role in {}', labels)).toBe(false);
  });
  it('not in {…} matches a value outside the set or an absent label', () => {
    expect(matches("role not in {'web'}", labels)).toBe(true);
    expect(matches("role not in {'db','x'}", labels)).toBe(false);
    expect(matches("missing not in {'db'}", labels)).toBe(true);
    expect(matches('role not in {}', labels)).toBe(true);
  });
  it('has(k) and !has(k) test presence', () => {
    expect(matches('has(role)', labels)).toBe(true);
    expect(matches('has(missing)', labels)).toBe(false);
    expect(matches('!has(role)', labels)).toBe(false);
    expect(matches('!has(missing)', labels)).toBe(true);
  });
  it('all() matches everything, including no labels', () => {
    expect(matches('all()', {})).toBe(true);
  });
  it('an empty or blank selector means all()', () => {
    expect(printSelector(parseSelector(''))).toBe('all()');
    expect(matches('   ', {})).toBe(true);
  });
  it('global() evaluates true, as in Calico (namespaceSelector resolution gives it meaning)', () => {
    expect(matches('global()', {})).toBe(true);
    expect(matches('global()', { 'projectcalico.org/namespace': 'default' })).toBe(true);
  });
  it('contains, starts with, ends with compare substrings and need the label', () => {
    expect(matches("app.kubernetes.io/name contains 'dis-m'", labels)).toBe(true);
    expect(matches("app.kubernetes.io/name starts with 'redis'", labels)).toBe(true);
    expect(matches("app.kubernetes.io/name ends with 'main'", labels)).toBe(true);
    expect(matches("app.kubernetes.io/name ends with 'redis'", labels)).toBe(false);
    expect(matches("missing contains ''", labels)).toBe(false);
  });
  it('&& binds tighter than ||', () => {
    expect(matches("role == 'x' && tier == 'x' || has(role)", labels)).toBe(true);
    expect(matches("role == 'x' && (tier == 'x' || has(role))", labels)).toBe(false);
  });
  it('! negates the following term, and parentheses group', () => {
    expect(matches("!role == 'db'", labels)).toBe(false);
    expect(matches("!(role == 'db' && tier == 'x')", labels)).toBe(true);
    expect(matches('!!has(role)', labels)).toBe(true);
  });
  it('accepts single and double quoted literals alike', () => {
    expect(canonicalSelector(`role == 'db'`)).toBe(canonicalSelector(`role == "db"`));
  });
  it('a label called "constructor" is not found on the object prototype', () => {
    expect(matches('has(constructor)', {})).toBe(false);
    expect(matches("constructor == 'x'", { constructor: 'x' })).toBe(true);
  });
  it('keywords are only operators where an operator belongs: labels may be named in, has, all', () => {
    expect(matches("in == 'a' && has == 'b' && all == 'c'", { in: 'a', has: 'b', all: 'c' })).toBe(true);
  });
});

describe('selector canonical printing', () => {
  it('normalizes spacing, quotes and redundant parentheses', () => {
    expect(canonicalSelector("((role=='db'))&&  has( tier )")).toBe('role == "db" && has(tier)');
  });
  it('flattens chains of one operator so grouping does not matter', () => {
    expect(canonicalSelector('(has(a) && has(b)) && has(c)')).toBe(canonicalSelector('has(a) && (has(b) && has(c))'));
    expect(canonicalSelector('has(a) || (has(b) || has(c))')).toBe('has(a) || has(b) || has(c)');
  });
  it('keeps needed parentheses', () => {
    expect(canonicalSelector('(has(a) || has(b)) && has(c)')).toBe('(has(a) || has(b)) && has(c)');
    expect(canonicalSelector('!(has(a) && has(b))')).toBe('!(has(a) && has(b))');
  });
  it('sorts and dedupes in-set values', () => {
    expect(canonicalSelector("k in {'b','a','b'}")).toBe('k in {"a", "b"}');
    expect(canonicalSelector("k not in {'z', 'y'}")).toBe('k not in {"y", "z"}');
  });
  it('prints a value holding a double quote with single quotes', () => {
    expect(canonicalSelector(`k == 'say "hi"'`)).toBe(`k == 'say "hi"'`);
  });
  it('prints the multi-word operators', () => {
    expect(canonicalSelector("k starts with 'a' || k ends with 'b' || k contains 'c' || k != 'd'")).toBe(
      'k starts with "a" || k ends with "b" || k contains "c" || k != "d"',
    );
    expect(canonicalSelector('global() && all()')).toBe('global() && all()');
  });
});

describe('namespaceSelector resolution', () => {
  it('rewrites label keys with the pcns. prefix', () => {
    expect(namespaceSelectorToEndpointSelector("project == 'myproject' && !has(x)")).toBe('pcns.project == "myproject" && !has(pcns.x)');
  });
  it('all() means any namespaced endpoint, global() means none', () => {
    expect(namespaceSelectorToEndpointSelector('all()')).toBe('has(projectcalico.org/namespace)');
    expect(namespaceSelectorToEndpointSelector('global()')).toBe('!has(projectcalico.org/namespace)');
  });
  it('matches an endpoint carrying its namespace profile labels', () => {
    const endpoint = { app: 'web', 'projectcalico.org/namespace': 'staging', 'pcns.project': 'myproject' };
    expect(matches(namespaceSelectorToEndpointSelector("project in {'myproject'}"), endpoint)).toBe(true);
    expect(matches(namespaceSelectorToEndpointSelector("project == 'other'"), endpoint)).toBe(false);
  });
});

describe('selector ids', () => {
  it('equal selectors written differently share an id; different ones do not', () => {
    expect(compileSelector("role=='db' && has(a)").id).toBe(compileSelector('(role == "db") && has( a )').id);
    expect(compileSelector("role=='db'").id).not.toBe(compileSelector("role=='web'").id);
    expect(compileSelector('all()').id).toMatch(/^[A-Za-z0-9_-]{38}$/);
  });
});

describe('selector parse errors', () => {
  it('names the position and what was expected after a label', () => {
    const e = parseError("role = 'db'");
    expect(e.position).toBe(5);
    expect(e.message).toMatch(/position 5/);
  });
  it('rejects a missing operand', () => {
    const e = parseError("role == 'db' &&");
    expect(e.position).toBe(15);
    expect(e.message).toMatch(/expected a label name.*found end of selector/);
  });
  it('rejects an unquoted value', () => {
    expect(parseError('role == db').message).toMatch(/expected a quoted string after role/);
  });
  it('rejects an unterminated string at its opening quote', () => {
    const e = parseError("role == 'db");
    expect(e.position).toBe(8);
    expect(e.message).toMatch(/unterminated string/);
  });
  it('rejects an unbalanced parenthesis', () => {
    expect(parseError('(has(a)').message).toMatch(/expected '\)'/);
    expect(parseError('has(a))').message).toMatch(/expected '&&', '\|\|' or end of selector/);
  });
  it('rejects a malformed set', () => {
    expect(parseError("k in {'a' 'b'}").message).toMatch(/expected ',' or '}'/);
    expect(parseError("k in 'a'").message).toMatch(/expected '\{'/);
  });
  it('rejects arguments to all() and stray characters', () => {
    expect(parseError('all(x)').message).toMatch(/all\(\) takes no arguments/);
    expect(parseError('has(a) & has(b)').message).toMatch(/unexpected character "&"/);
  });
  it('rejects a lone label', () => {
    expect(parseError('role').message).toMatch(/expected an operator after label "role"/);
  });
});

// ---- property tests ----
const KEYS = ['a', 'b', 'c', 'in', 'x.io/k'];
const VALS = ['', 'v', 'w', 'vw', 'wv', 'say "x"'];
const key = fc.constantFrom(...KEYS);
const val = fc.constantFrom(...VALS);

const leaf: fc.Arbitrary<Selector> = fc.oneof(
  fc.constant<Selector>({ op: 'all' }),
  fc.constant<Selector>({ op: 'global' }),
  key.map((k): Selector => ({ op: 'has', key: k })),
  fc.tuple(fc.constantFrom('eq', 'ne', 'contains', 'startsWith', 'endsWith' as const), key, val).map(([op, k, v]): Selector => ({ op, key: k, value: v })),
  fc.tuple(fc.constantFrom('in', 'notIn' as const), key, fc.uniqueArray(val, { maxLength: 3 })).map(([op, k, vs]): Selector => ({ op, key: k, values: [...vs].sort() })),
);

const selectorArb: fc.Arbitrary<Selector> = fc.letrec<{ sel: Selector }>((tie) => ({
  sel: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('sel').map((e): Selector => ({ op: 'not', expr: e })),
    fc.tuple(fc.constantFrom('and', 'or' as const), fc.array(tie('sel'), { minLength: 2, maxLength: 3 })).map(([op, exprs]): Selector => ({ op, exprs })),
  ),
})).sel;

const labelsArb: fc.Arbitrary<Labels> = fc.dictionary(key, val, { maxKeys: 4 }).map((d) => ({ ...d }));

/** A deliberately naive reference: no shared code with evaluate(). */
function reference(sel: Selector, labels: Labels): boolean {
  const has = (k: string) => Object.keys(labels).includes(k);
  const v = (k: string) => (has(k) ? labels[k] : null);
  switch (sel.op) {
    case 'all':
      return true;
    case 'global':
      return true;
    case 'has':
      return has(sel.key);
    case 'eq':
      return v(sel.key) === sel.value;
    case 'ne':
      return v(sel.key) !== sel.value;
    case 'contains':
      return v(sel.key) !== null && (v(sel.key) as string).indexOf(sel.value) >= 0;
    case 'startsWith':
      return v(sel.key) !== null && (v(sel.key) as string).slice(0, sel.value.length) === sel.value;
    case 'endsWith':
      return v(sel.key) !== null && (v(sel.key) as string).slice((v(sel.key) as string).length - sel.value.length) === sel.value && (v(sel.key) as string).length >= sel.value.length;
    case 'in':
      return sel.values.some((x) => x === v(sel.key));
    case 'notIn':
      return !sel.values.some((x) => x === v(sel.key));
    case 'not':
      return !reference(sel.expr, labels);
    case 'and':
      return sel.exprs.reduce<boolean>((acc, e) => acc && reference(e, labels), true);
    case 'or':
      return sel.exprs.reduce<boolean>((acc, e) => acc || reference(e, labels), false);
  }
}

describe('selector properties', () => {
  it('print → parse → print is a fixed point, and the reparse means the same', () => {
    fc.assert(
      fc.property(selectorArb, labelsArb, (sel, labels) => {
        const text = printSelector(sel);
        const back = parseSelector(text);
        expect(printSelector(back)).toBe(text);
        expect(evaluate(back, labels)).toBe(evaluate(sel, labels));
      }),
      { numRuns: 500 },
    );
  });
  it('De Morgan: !(a && b) ≡ !a || !b and !(a || b) ≡ !a && !b', () => {
    fc.assert(
      fc.property(selectorArb, selectorArb, labelsArb, (a, b, labels) => {
        const [pa, pb] = [printSelector(a), printSelector(b)];
        expect(matches(`!((${pa}) && (${pb}))`, labels)).toBe(matches(`!(${pa}) || !(${pb})`, labels));
        expect(matches(`!((${pa}) || (${pb}))`, labels)).toBe(matches(`!(${pa}) && !(${pb})`, labels));
      }),
      { numRuns: 300 },
    );
  });
  it('the evaluator agrees with a naive reference', () => {
    fc.assert(
      fc.property(selectorArb, labelsArb, (sel, labels) => {
        expect(evaluate(sel, labels)).toBe(reference(sel, labels));
      }),
      { numRuns: 1000 },
    );
  });
  it('parsing arbitrary text either succeeds or throws SelectorError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab (){},!=&|\'"in not has all'.split('')), maxLength: 30 }), (text) => {
        try {
          parseSelector(text);
        } catch (e) {
          expect(e).toBeInstanceOf(SelectorError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
