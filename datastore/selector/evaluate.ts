// Evaluates a selector against one label map, with Calico's semantics for missing labels:
// `!=` and `not in` match when the label is absent; every other comparison needs the label.
import type { Selector } from './ast.js';

export type Labels = Readonly<Record<string, string>>;

/**
 * Label Calico puts on namespaced endpoints. `global()` itself evaluates true, as in Calico;
 * its meaning "non-namespaced endpoints" comes from whoever resolves a rule's
 * `namespaceSelector: global()`, by requiring `!has(projectcalico.org/namespace)`.
 */
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';

function get(labels: Labels, key: string): string | undefined {
  // Own properties only: a label named "constructor" must not find Object.prototype's.
  return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
}

export function evaluate(sel: Selector, labels: Labels): boolean {
  switch (sel.op) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return get(labels, sel.key) !== undefined;
    case 'not':
      return !evaluate(sel.expr, labels);
    case 'and':
      return sel.exprs.every((e) => evaluate(e, labels));
    case 'or':
      return sel.exprs.some((e) => evaluate(e, labels));
  }
  const v = get(labels, sel.key);
  switch (sel.op) {
    case 'ne':
      return v !== sel.value;
    case 'notIn':
      return v === undefined || !sel.values.includes(v);
  }
  if (v === undefined) return false;
  switch (sel.op) {
    case 'eq':
      return v === sel.value;
    case 'in':
      return sel.values.includes(v);
    case 'contains':
      return v.includes(sel.value);
    case 'startsWith':
      return v.startsWith(sel.value);
    case 'endsWith':
      return v.endsWith(sel.value);
  }
}
