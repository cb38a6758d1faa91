import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../datastore/client.js';
import { validateDocuments } from './validate.js';

const V3 = 'projectcalico.org/v3';
const pool = (name: string, cidr: string, spec: Record<string, unknown> = {}) => ({ apiVersion: V3, kind: 'IPPool', metadata: { name }, spec: { cidr, ...spec } });

function errorOf(docs: unknown[]): string {
  try {
    validateDocuments(docs);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as Error).message;
  }
  throw new Error('expected a validation error');
}

describe('validateDocuments', () => {
  it('returns normalized resources when all are valid', () => {
    const r = validateDocuments([pool('a', '10.0.0.0/16')]);
    expect(r[0].spec).toMatchObject({ blockSize: 26, ipipMode: 'Never' });
  });
  it('names document number, kind, name and field path', () => {
    expect(errorOf([pool('a', '10.0.0.0/16'), pool('b', '10.1.0.1/16')])).toMatch(/^document 2 \(IPPool 'b'\): spec\.cidr: /);
    expect(errorOf([pool('a', '10.0.0.0/16', { bogus: 1 })])).toMatch(/document 1 \(IPPool 'a'\): spec(\.bogus)?: .*bogus/);
    expect(errorOf([pool('a', '10.0.0.0/16', { ipipMode: 'Always', vxlanMode: 'Always' })])).toMatch(/document 1 \(IPPool 'a'\)/);
  });
  it('finds pools overlapping within the file', () => {
    expect(errorOf([pool('a', '10.0.0.0/8'), pool('b', '10.1.0.0/16')])).toMatch(/overlaps/);
  });
});
