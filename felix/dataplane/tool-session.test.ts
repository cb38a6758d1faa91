// The long-lived restore process, with a shell loop standing in for the tool: it reads stdin line
// by line like iptables-restore and ipset do, appends to a file, complains on stderr, or exits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolSession } from './tool-session.js';

let dir: string;
let out: string;
let sessions: ToolSession[];

const LOOP = `while read -r line; do case "$line" in bad*) echo "refused: $line" >&2;; quit*) exit 3;; slow*) sleep 0.2; echo "$line" >> "$OUT";; *) echo "$line" >> "$OUT";; esac; done`;

function session(): ToolSession {
  const s = new ToolSession({ cmd: 'sh', args: ['-c', LOOP.replaceAll('$OUT', out)] });
  sessions.push(s);
  return s;
}
const written = (): string[] => {
  try {
    return readFileSync(out, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tortie-session-'));
  out = join(dir, 'out');
  sessions = [];
});
afterEach(() => {
  for (const s of sessions) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ToolSession', () => {
  it('resolves a request only once the process has acted on every line of it', async () => {
    const s = session();
    await s.run('one\nslow two\nthree\n');
    expect(written()).toEqual(['one', 'slow two', 'three']);
    await s.run('four\n');
    expect(written()).toEqual(['one', 'slow two', 'three', 'four']);
    expect(s.supported).toBe(true);
  });

  it('runs concurrent requests one after the other, in order', async () => {
    const s = session();
    await Promise.all([s.run('slow a\n'), s.run('b\n'), s.run('slow c\n')]);
    expect(written()).toEqual(['slow a', 'b', 'slow c']);
  });

  it('fails a request the tool complains about, naming its words, and goes on with the same process', async () => {
    const s = session();
    await s.run('first\n');
    await expect(s.run('bad line\n')).rejects.toThrow(/refused: bad line/);
    await s.run('after\n');
    expect(written()).toEqual(['first', 'after']);
  });

  it('fails a request whose process exits, and starts a fresh process for the next', async () => {
    const s = session();
    await s.run('first\n');
    await expect(s.run('quit now\n')).rejects.toThrow(/code 3/);
    await s.run('again\n');
    expect(written()).toEqual(['first', 'again']);
  });

  it('fails every request when the tool is missing, with the reason', async () => {
    const s = new ToolSession({ cmd: '/nonexistent/tool', args: [] });
    sessions.push(s);
    await expect(s.run('x\n')).rejects.toThrow(/ENOENT/);
    expect(s.supported).toBe(true);
  });
});
