// How a rule's namespaceSelector reaches endpoints, as Calico resolves it: namespace labels are
// copied onto endpoints through the namespace's profile with the "pcns." prefix, so the
// selector is rewritten over prefixed keys; all() means "any namespaced endpoint" and global()
// means "endpoints in no namespace".
import { printSelector, type Selector } from './ast.js';
import { NAMESPACE_LABEL } from './evaluate.js';
import { parseSelector } from './parser.js';

export const NAMESPACE_LABEL_PREFIX = 'pcns.';

/** Every label key in the selector with `prefix` in front. */
export function prefixSelectorLabels(sel: Selector, prefix: string): Selector {
  switch (sel.op) {
    case 'all':
    case 'global':
      return sel;
    case 'not':
      return { op: 'not', expr: prefixSelectorLabels(sel.expr, prefix) };
    case 'and':
    case 'or':
      return { op: sel.op, exprs: sel.exprs.map((e) => prefixSelectorLabels(e, prefix)) };
    default:
      return { ...sel, key: `${prefix}${sel.key}` };
  }
}

/** The selector over endpoint labels that a namespaceSelector stands for (canonical text). */
export function namespaceSelectorToEndpointSelector(namespaceSelector: string): string {
  const ast = parseSelector(namespaceSelector);
  if (ast.op === 'global') return printSelector({ op: 'not', expr: { op: 'has', key: NAMESPACE_LABEL } });
  if (ast.op === 'all') return printSelector({ op: 'has', key: NAMESPACE_LABEL });
  return printSelector(prefixSelectorLabels(ast, NAMESPACE_LABEL_PREFIX));
}
