import { describe, expect, it } from 'vitest';
import { DocumentSyntaxError, parseDocuments } from './documents.js';

describe('parseDocuments', () => {
  it('reads multi-document YAML, skipping empty documents', () => {
    expect(parseDocuments('a: 1\n---\nb: 2\n---\n', 'f.yaml')).toEqual([{ a: 1 }, { b: 2 }]);
  });
  it('reads JSON', () => {
    expect(parseDocuments('{"kind": "IPPool", "metadata": {"name": "x"}}', 'f.json')).toEqual([{ kind: 'IPPool', metadata: { name: 'x' } }]);
  });
  it('expands kind: List, kind: XxxList and top-level sequences', () => {
    const text = 'kind: IPPoolList\napiVersion: projectcalico.org/v3\nitems:\n- {a: 1}\n- {a: 2}\n---\nkind: List\nitems: [{b: 1}]\n---\n- c: 1\n';
    expect(parseDocuments(text, 'f')).toEqual([{ a: 1 }, { a: 2 }, { b: 1 }, { c: 1 }]);
  });
  it('reports broken YAML with file, line and column', () => {
    const err = (() => {
      try {
        parseDocuments('a: 1\n---\nkind: IPPool\nspec:\n  cidr: [10.0.0.0/8\n', 'pools.yaml');
      } catch (e) {
        return e;
      }
    })() as DocumentSyntaxError;
    expect(err).toBeInstanceOf(DocumentSyntaxError);
    expect(err.message).toMatch(/^pools\.yaml:\d+:\d+: invalid YAML\/JSON: /);
    expect(err.line).toBeGreaterThanOrEqual(5);
  });
  it('rejects duplicate keys with their position', () => {
    expect(() => parseDocuments('a: 1\na: 2\n', 'f')).toThrow(/^f:2:1: /);
  });
  it('reports broken JSON with a position', () => {
    expect(() => parseDocuments('{"a": 1,, }', 'x.json')).toThrow(/^x\.json:1:\d+: /);
  });
});

describe('parseDocuments with pasted text', () => {
  it('reads no-break spaces (as copied from web tutorials) as spaces', () => {
    expect(parseDocuments('apiVersion:\u00a0v1\nkind:\u00a0ipPool\n', 'f')).toEqual([{ apiVersion: 'v1', kind: 'ipPool' }]);
  });
});
