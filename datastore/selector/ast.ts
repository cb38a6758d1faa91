// The selector AST and its canonical printer. The printed form is what felix hashes into ipset
// names, so two selectors that differ only in spacing, quoting, redundant parentheses, grouping of
// a chain of the same operator, or the order/duplicates of an `in` set print identically.

export type Selector =
  | { op: 'all' }
  | { op: 'global' }
  | { op: 'has'; key: string }
  | { op: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; key: string; value: string }
  | { op: 'in' | 'notIn'; key: string; values: string[] }
  | { op: 'not'; expr: Selector }
  | { op: 'and' | 'or'; exprs: Selector[] };

export type CompareOp = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';

const COMPARE_TEXT: Record<CompareOp, string> = {
  eq: '==',
  ne: '!=',
  contains: 'contains',
  startsWith: 'starts with',
  endsWith: 'ends with',
};

export const ALL: Selector = { op: 'all' };

/** Builds an n-ary and/or, flattening nested nodes of the same operator (associativity). */
export function junction(op: 'and' | 'or', parts: Selector[]): Selector {
  const exprs: Selector[] = [];
  for (const p of parts) {
    if (p.op === op) exprs.push(...p.exprs);
    else exprs.push(p);
  }
  return exprs.length === 1 ? exprs[0] : { op, exprs };
}

/** `in` sets have set semantics: sort and dedupe so the printed form is canonical. */
export function setValues(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** Double quotes unless the value holds one (literals have no escapes, so it cannot hold both). */
export function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

export function printSelector(sel: Selector): string {
  switch (sel.op) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${sel.key})`;
    case 'in':
    case 'notIn':
      return `${sel.key} ${sel.op === 'in' ? 'in' : 'not in'} {${setValues(sel.values).map(quote).join(', ')}}`;
    case 'not':
      return `!${sel.expr.op === 'and' || sel.expr.op === 'or' ? `(${printSelector(sel.expr)})` : printSelector(sel.expr)}`;
    case 'and':
      return sel.exprs.map((e) => (e.op === 'or' ? `(${printSelector(e)})` : printSelector(e))).join(' && ');
    case 'or':
      return sel.exprs.map(printSelector).join(' || ');
    default:
      return `${sel.key} ${COMPARE_TEXT[sel.op]} ${quote(sel.value)}`;
  }
}
