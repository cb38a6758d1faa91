import { describe, expect, it } from 'vitest';
import { applyLabelChanges, parseLabelArgs } from './label.js';
import { CliError, UsageError } from '../errors.js';

describe('parseLabelArgs', () => {
  it('reads key=value and key-', () => {
    expect(parseLabelArgs(['a=b', 'c-', 'd='])).toEqual({ set: { a: 'b', d: '' }, remove: ['c'] });
  });
  it('rejects anything else as usage', () => {
    expect(() => parseLabelArgs(['nope'])).toThrow(UsageError);
    expect(() => parseLabelArgs(['=x'])).toThrow(UsageError);
    expect(() => parseLabelArgs([])).toThrow(UsageError);
    expect(() => parseLabelArgs(['a=1', 'a-'])).toThrow(/both set and removed/);
  });
});

describe('applyLabelChanges', () => {
  it('adds, keeps equal values, removes', () => {
    expect(applyLabelChanges({ a: '1', b: '2' }, { set: { a: '1', c: '3' }, remove: ['b'] }, false)).toEqual({ a: '1', c: '3' });
  });
  it('changing a value needs --overwrite', () => {
    expect(() => applyLabelChanges({ a: '1' }, { set: { a: '2' }, remove: [] }, false)).toThrow(CliError);
    expect(applyLabelChanges({ a: '1' }, { set: { a: '2' }, remove: [] }, true)).toEqual({ a: '2' });
  });
  it('removing an absent label is an error', () => {
    expect(() => applyLabelChanges(undefined, { set: {}, remove: ['x'] }, false)).toThrow(/not found/);
  });
});
