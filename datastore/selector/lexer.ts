// Splits a selector into tokens with their character positions. Words are left uninterpreted so
// the parser can tell a label called `in` from the `in` operator by where it stands.

export type TokenType = 'word' | 'string' | '(' | ')' | '{' | '}' | ',' | '&&' | '||' | '!' | '==' | '!=' | 'eof';

export interface Token {
  type: TokenType;
  /** The word, or the string literal's contents without quotes. */
  text: string;
  /** 0-based character offset of the token's first character. */
  pos: number;
}

export class SelectorError extends Error {
  constructor(
    readonly selector: string,
    readonly position: number,
    readonly detail: string,
  ) {
    super(`invalid selector ${JSON.stringify(selector)}: at position ${position}: ${detail}`);
    this.name = 'SelectorError';
  }
}

/** Label keys (optionally prefix/name) and bare words: letters, digits, `_ . / -`. */
const WORD_CHAR = /[A-Za-z0-9_./-]/;
const TWO_CHAR = new Set(['&&', '||', '==', '!=']);
const ONE_CHAR = new Set(['(', ')', '{', '}', ',', '!']);

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (TWO_CHAR.has(two)) {
      tokens.push({ type: two as TokenType, text: two, pos: i });
      i += 2;
    } else if (ONE_CHAR.has(c)) {
      tokens.push({ type: c as TokenType, text: c, pos: i });
      i++;
    } else if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end < 0) throw new SelectorError(input, i, `unterminated string literal (missing closing ${c})`);
      tokens.push({ type: 'string', text: input.slice(i + 1, end), pos: i });
      i = end + 1;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < input.length && WORD_CHAR.test(input[i])) i++;
      tokens.push({ type: 'word', text: input.slice(start, i), pos: start });
    } else {
      throw new SelectorError(input, i, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  tokens.push({ type: 'eof', text: '', pos: input.length });
  return tokens;
}
