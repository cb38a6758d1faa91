import { describe, expect, it } from 'vitest';
import { formatLabels, formatTable } from './output.js';

describe('formatTable', () => {
  it('aligns columns with three spaces and upper-cases headers', () => {
    expect(formatTable(['name', 'cidr'], [['default-ipv4-ippool', '192.168.0.0/16'], ['p', '10.0.0.0/8']])).toBe(
      'NAME                  CIDR\n' + 'default-ipv4-ippool   192.168.0.0/16\n' + 'p                     10.0.0.0/8\n',
    );
  });
  it('prints only the header for no rows', () => {
    expect(formatTable(['NAME', 'CIDR'], [])).toBe('NAME   CIDR\n');
  });
  it('renders undefined as empty and booleans/numbers as text, trimming trailing blanks', () => {
    expect(formatTable(['A', 'B', 'C'], [[undefined, true, 1]])).toBe('A   B      C\n    true   1\n');
    expect(formatTable(['A', 'B'], [['x', undefined]])).toBe('A   B\nx\n');
  });
});

describe('formatLabels', () => {
  it('sorts keys', () => {
    expect(formatLabels({ b: '2', a: '1' })).toBe('a=1,b=2');
    expect(formatLabels(undefined)).toBe('');
  });
});
