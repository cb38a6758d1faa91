import { describe, expect, it } from 'vitest';
import { consoleCommands, extractBlocks, outputMatches } from '../harness/doctest.js';

const md = `# T

<!-- doctest: etcd -->
\`\`\`sh
echo a
\`\`\`

<!-- not run: needs a ToR -->

\`\`\`console
# echo b
b
\`\`\`

\`\`\`bash
echo unmarked
\`\`\`

\`\`\`yaml
kind: IPPool
\`\`\`
`;

describe('README doctest blocks', () => {
  it('finds shell blocks with their marker (blank lines between allowed), and flags unmarked ones', () => {
    expect(extractBlocks('T.md', md)).toEqual([
      { file: 'T.md', line: 4, lang: 'sh', body: 'echo a', run: 'etcd' },
      { file: 'T.md', line: 10, lang: 'console', body: '# echo b\nb', notRun: 'needs a ToR' },
      { file: 'T.md', line: 15, lang: 'bash', body: 'echo unmarked', unmarked: true },
    ]);
  });
  it('splits a console block into commands and the output shown under each', () => {
    expect(consoleCommands('# a\n# b x\none\ntwo\n\n$ c\n')).toEqual([{ command: 'a' }, { command: 'b x', expect: ['one', 'two'] }, { command: 'c' }]);
  });
  it('matches output exactly, `...` lines and `…` in a line as wildcards', () => {
    expect(outputMatches(['a', 'b'], ['a', 'b  '])).toBe(true);
    expect(outputMatches(['a', 'b'], ['a', 'c'])).toBe(false);
    expect(outputMatches(['...', '30/30 reachable'], ['x', 'y', '30/30 reachable'])).toBe(true);
    expect(outputMatches(['...', '30/30 reachable'], ['29/30 reachable'])).toBe(false);
    expect(outputMatches(['pod shop/web 10.65.… on node2 (cali1)'], ['pod shop/web 10.65.0.130 on node2 (cali1)'])).toBe(true);
    expect(outputMatches(['pod shop/web 10.65.… on node2'], ['pod shop/web 10.65.0.130 on node3'])).toBe(false);
  });
});
