// README examples as tests: finds the shell blocks of a Markdown file, what each needs to run, and
// the output it shows. Pure; test/e2e/readme-doctest.test.ts runs them.
//
// A shell block (```sh, ```bash, ```shell or ```console) is preceded by one marker line:
//   <!-- doctest: etcd -->           run against a fresh etcd at 127.0.0.1:2379 (one per file, shared in order)
//   <!-- doctest: lab -->            run beside a tortie-lab cluster (one per file, shared in order)
//   <!-- not run: REASON -->         shown only, for the reason given
// In ```console blocks each `$ ` or `# ` line is a command and the lines under it its expected
// output: `...` alone matches any number of lines and `…` inside a line any text (an address that
// depends on which node won which block). Other blocks run as one script and must exit 0.

export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

export type DocContext = 'etcd' | 'lab';

export interface DocCommand {
  command: string;
  /** Expected output lines; undefined when the block shows none for this command. */
  expect?: string[];
}

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
  run?: DocContext;
  /** Why it is not run (`<!-- not run: … -->`). */
  notRun?: string;
  /** A shell block with no marker: the test fails on it. */
  unmarked?: boolean;
}

const MARKER = /^<!--\s*(?:doctest:\s*(etcd|lab)|not run:\s*(.+?))\s*-->$/;

export function extractBlocks(file: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const lang = open[3];
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
    const body = lines.slice(i + 1, end).join('\n');
    if (SHELL_LANGS.has(lang)) {
      let prev = i - 1;
      while (prev >= 0 && lines[prev].trim() === '') prev--;
      const m = prev >= 0 ? MARKER.exec(lines[prev].trim()) : null;
      const block: DocBlock = { file, line: i + 1, lang, body };
      if (m?.[1]) block.run = m[1] as DocContext;
      else if (m?.[2]) block.notRun = m[2];
      else block.unmarked = true;
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

/** A console block's commands and the output shown under each. */
export function consoleCommands(body: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (const line of body.split('\n')) {
    const cmd = /^[$#] (.*)$/.exec(line);
    if (cmd) out.push({ command: cmd[1] });
    else if (out.length) (out[out.length - 1].expect ??= []).push(line);
  }
  for (const c of out) {
    while (c.expect?.length && c.expect[c.expect.length - 1].trim() === '') c.expect.pop();
    if (c.expect?.length === 0) delete c.expect;
  }
  return out;
}

function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('…')) return expected.trimEnd() === actual.trimEnd();
  const pattern = expected.trimEnd().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?');
  return new RegExp(`^${pattern}$`).test(actual.trimEnd());
}

/** Whether `actual` (the command's output) is what the block shows, `...` and `…` as wildcards. */
export function outputMatches(expected: readonly string[], actual: readonly string[]): boolean {
  const go = (e: number, a: number): boolean => {
    if (e === expected.length) return a === actual.length;
    if (expected[e].trim() === '...') {
      for (let k = a; k <= actual.length; k++) if (go(e + 1, k)) return true;
      return false;
    }
    return a < actual.length && lineMatches(expected[e], actual[a]) && go(e + 1, a + 1);
  };
  return go(0, 0);
}
