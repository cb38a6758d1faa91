// Calico's selector language: parse, evaluate, print canonically.
import { printSelector, type Selector } from './ast.js';
import { evaluate, type Labels } from './evaluate.js';
import { parseSelector } from './parser.js';

export { ALL, junction, printSelector, quote, setValues, type Selector } from './ast.js';
export { evaluate, NAMESPACE_LABEL, type Labels } from './evaluate.js';
export { SelectorError, tokenize } from './lexer.js';
export { parseSelector } from './parser.js';

/** Parses once; evaluate many times. */
export interface CompiledSelector {
  readonly ast: Selector;
  /** Canonical text: equal selectors print identically. */
  readonly canonical: string;
  matches(labels: Labels): boolean;
}

export function compileSelector(input: string): CompiledSelector {
  const ast = parseSelector(input);
  return { ast, canonical: printSelector(ast), matches: (labels) => evaluate(ast, labels) };
}

/** Canonical form of a selector string (throws SelectorError if invalid). */
export function canonicalSelector(input: string): string {
  return printSelector(parseSelector(input));
}
