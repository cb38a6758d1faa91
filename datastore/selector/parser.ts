// Recursive-descent parser for Calico's selector language.
//   expr    := and ('||' and)*
//   and     := unary ('&&' unary)*
//   unary   := '!' unary | primary
//   primary := '(' expr ')' | 'all()' | 'global()' | 'has(' key ')'
//            | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
//            | key ('in' | 'not in') '{' [string (',' string)*] '}'
// An empty (or all-blank) selector means all(), as Calico treats an omitted selector.
import { junction, setValues, type CompareOp, type Selector } from './ast.js';
import { SelectorError, tokenize, type Token } from './lexer.js';

class Parser {
  private i = 0;
  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    this.i++;
    return t;
  }

  private fail(t: Token, expected: string): never {
    const found = t.type === 'eof' ? 'end of selector' : t.type === 'string' ? `string ${JSON.stringify(t.text)}` : JSON.stringify(t.text);
    throw new SelectorError(this.input, t.pos, `expected ${expected}, found ${found}`);
  }

  private expect(type: Token['type'], expected: string): Token {
    const t = this.next();
    if (t.type !== type) this.fail(t, expected);
    return t;
  }

  private isWord(offset: number, text: string): boolean {
    const t = this.peek(offset);
    return t.type === 'word' && t.text === text;
  }

  parseRoot(): Selector {
    if (this.peek().type === 'eof') return { op: 'all' };
    const sel = this.parseOr();
    const t = this.peek();
    if (t.type !== 'eof') this.fail(t, "'&&', '||' or end of selector");
    return sel;
  }

  private parseOr(): Selector {
    const parts = [this.parseAnd()];
    while (this.peek().type === '||') {
      this.next();
      parts.push(this.parseAnd());
    }
    return junction('or', parts);
  }

  private parseAnd(): Selector {
    const parts = [this.parseUnary()];
    while (this.peek().type === '&&') {
      this.next();
      parts.push(this.parseUnary());
    }
    return junction('and', parts);
  }

  private parseUnary(): Selector {
    if (this.peek().type === '!') {
      this.next();
      return { op: 'not', expr: this.parseUnary() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Selector {
    const t = this.peek();
    if (t.type === '(') {
      this.next();
      const inner = this.parseOr();
      this.expect(')', "')'");
      return inner;
    }
    if (t.type !== 'word') this.fail(t, "a label name, 'has(', 'all()', 'global()', '!' or '('");
    if (this.peek(1).type === '(' && (t.text === 'all' || t.text === 'global' || t.text === 'has')) {
      this.i += 2;
      if (t.text === 'has') {
        const key = this.expect('word', 'a label name inside has(…)');
        this.expect(')', "')' closing has(…)");
        return { op: 'has', key: key.text };
      }
      this.expect(')', `')' (${t.text}() takes no arguments)`);
      return { op: t.text === 'all' ? 'all' : 'global' };
    }
    this.next();
    return this.parseOperation(t.text);
  }

  private parseOperation(key: string): Selector {
    const t = this.peek();
    const compare = (op: CompareOp, width: number): Selector => {
      this.i += width;
      const v = this.expect('string', `a quoted string after ${key}`);
      return { op, key, value: v.text };
    };
    if (t.type === '==') return compare('eq', 1);
    if (t.type === '!=') return compare('ne', 1);
    if (this.isWord(0, 'contains')) return compare('contains', 1);
    if (this.isWord(0, 'starts') && this.isWord(1, 'with')) return compare('startsWith', 2);
    if (this.isWord(0, 'ends') && this.isWord(1, 'with')) return compare('endsWith', 2);
    if (this.isWord(0, 'in')) {
      this.i += 1;
      return { op: 'in', key, values: this.parseSet() };
    }
    if (this.isWord(0, 'not') && this.isWord(1, 'in')) {
      this.i += 2;
      return { op: 'notIn', key, values: this.parseSet() };
    }
    return this.fail(t, `an operator after label ${JSON.stringify(key)} ('==', '!=', 'in', 'not in', 'contains', 'starts with', 'ends with')`);
  }

  private parseSet(): string[] {
    this.expect('{', "'{' starting the value set");
    const values: string[] = [];
    if (this.peek().type === '}') {
      this.next();
      return values;
    }
    for (;;) {
      values.push(this.expect('string', 'a quoted string in the value set').text);
      const t = this.next();
      if (t.type === '}') return setValues(values);
      if (t.type !== ',') this.fail(t, "',' or '}' in the value set");
    }
  }
}

/** Parses a selector; throws SelectorError naming the position and what was expected. */
export function parseSelector(input: string): Selector {
  return new Parser(input, tokenize(input)).parseRoot();
}
