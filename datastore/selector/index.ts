// Calico's selector language: parse, evaluate, print canonically.
import { createHash } from 'node:crypto';
import { printSelector, type Selector } from './ast.js';
import { evaluate, type Labels } from './evaluate.js';
import { parseSelector } from './parser.js';

export { ALL, junction, printSelector, quote, setValues, type Selector } from './ast.js';
export { evaluate, NAMESPACE_LABEL, type Labels } from './evaluate.js';
export { SelectorError, tokenize } from './lexer.js';
export { parseSelector } from './parser.js';
export { NAMESPACE_LABEL_PREFIX, namespaceSelectorToEndpointSelector, prefixSelectorLabels } from './namespace.js';

/** Parses once; evaluate many times. */
export interface CompiledSelector {
  readonly ast: Selector;
  /** Canonical text: equal selectors print identically. */
  readonly canonical: string;
  /** Stable id of the canonical text (base64url SHA-224, 38 chars), for ipset naming. */
  readonly id: string;
  matches(labels: Labels): boolean;
}

export function compileSelector(input: string): CompiledSelector {
  const ast = parseSelector(input);
  const canonical = printSelector(ast);
  return { ast, canonical, id: selectorId(canonical), matches: (labels) => evaluate(ast, labels) };
}

/** Hash of a canonical selector text: equal selectors get equal ids however they were written. */
export function selectorId(canonical: string): string {
  return createHash('sha224').update(canonical).digest('base64url');
}

/** Canonical form of a selector string (throws SelectorError if invalid). */
export function canonicalSelector(input: string): string {
  return printSelector(parseSelector(input));
}
