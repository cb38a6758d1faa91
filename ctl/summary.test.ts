import { describe, expect, it } from 'vitest';
import { resultLine } from './summary.js';

describe('resultLine', () => {
  it('names the kind when there is one', () => {
    expect(resultLine('applied', ['IPPool', 'IPPool'])).toBe("Successfully applied 2 'IPPool' resource(s)");
    expect(resultLine('created', ['BGPPeer'])).toBe("Successfully created 1 'BGPPeer' resource(s)");
    expect(resultLine('deleted', ['IPPool'])).toBe("Successfully deleted 1 'IPPool' resource(s)");
  });
  it('counts only when kinds are mixed', () => {
    expect(resultLine('applied', ['IPPool', 'BGPPeer', 'IPPool'])).toBe('Successfully applied 3 resource(s)');
  });
});
