// Reads the documents of a -f file: multi-document YAML or JSON, Kubernetes-style lists
// (`kind: List` / `kind: IPPoolList` with items, or a top-level sequence) expanded in order.
// Pure: takes the text and the name to put in messages.
import { LineCounter, parseAllDocuments } from 'yaml';

/** A syntax error a person can find: file, line and column. */
export class DocumentSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: invalid YAML/JSON: ${detail}`);
    this.name = 'DocumentSyntaxError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isList(v: unknown): v is { items: unknown[] } {
  return isRecord(v) && Array.isArray(v.items) && typeof v.kind === 'string' && /List$/.test(v.kind);
}

function expand(v: unknown, out: unknown[]): void {
  if (v === null || v === undefined) return; // empty document (e.g. a trailing ---)
  if (Array.isArray(v)) v.forEach((x) => expand(x, out));
  else if (isList(v)) v.items.forEach((x) => expand(x, out));
  else out.push(v);
}

/** Parses every document; throws DocumentSyntaxError at the first broken one. */
export function parseDocuments(text: string, file: string): unknown[] {
  // Manifests copied from web pages often carry no-break spaces (U+00A0) after "key:", which YAML
  // does not count as blanks; a resource never needs one, so read them as plain spaces.
  text = text.replace(/\u00a0/g, ' ');
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const d of list) {
    const err = d.errors[0];
    if (err) {
      const pos = lines.linePos(err.pos[0]);
      throw new DocumentSyntaxError(file, pos.line, pos.col, firstLine(err.message));
    }
    expand(d.toJS({ maxAliasCount: 100 }), out);
  }
  return out;
}

function firstLine(msg: string): string {
  return msg.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}
