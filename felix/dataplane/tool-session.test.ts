// The long-lived restore tools, with shell loops standing in for them: one reads stdin line by
// line like `iptables-restore -v` (echoes comments, records lines at COMMIT, fails a transaction
// with a line on stderr and its exit); the other like `ipset -` (a prompt after each command,
// complaints on the same stream). The real tools are covered by the policy-driver and
// host-endpoint tests in namespaces.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ipsetProtocol, restoreProtocol, ToolSession, type SessionProtocol } from './tool-session.js';

let dir: string;
let out: string;
let sessions: ToolSession[];

// "-v" is appended by the protocol: the loop ignores its arguments.
const RESTORE = `while read -r line; do case "$line" in '#'*) echo "$line";; bad*) echo "line failed: $line" >&2; exit 1;; slow*) sleep 0.2; echo "$line" >> "$OUT";; COMMIT) ;; *) echo "$line" >> "$OUT";; esac; done`;
const IPSET = `printf 'ipset> '; while read -r line; do case "$line" in bad*) echo "ipset v7: refused $line";; slow*) sleep 0.2; echo "$line" >> "$OUT";; *) echo "$line" >> "$OUT";; esac; printf 'ipset> '; done`;
const SILENT = `while read -r line; do :; done`;

function session(protocol: SessionProtocol): ToolSession {
  const s = new ToolSession({ protocol, startTimeoutMs: 1_000 });
  sessions.push(s);
  return s;
}
const sh = (loop: string): string[] => ['sh', '-c', loop.replaceAll('$OUT', out)];
const restore = (loop = RESTORE): ToolSession => session(restoreProtocol(sh(loop)[0] ?? '', sh(loop).slice(1)));
const ipset = (loop = IPSET): ToolSession => session(ipsetProtocol(sh(loop)));
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

describe('ToolSession with iptables-restore -v', () => {
  it('resolves a transaction only once the tool has read past its COMMIT', async () => {
    const s = restore();
    await s.run('one\nslow two\nCOMMIT\n');
    expect(written()).toEqual(['one', 'slow two']);
    await s.run('three\nCOMMIT\n');
    expect(written()).toEqual(['one', 'slow two', 'three']);
  });

  it('runs concurrent transactions one after the other, in order', async () => {
    const s = restore();
    await Promise.all([s.run('slow a\nCOMMIT\n'), s.run('b\nCOMMIT\n'), s.run('slow c\nCOMMIT\n')]);
    expect(written()).toEqual(['slow a', 'b', 'slow c']);
  });

  it('fails a transaction the tool refuses, with its stderr, and starts a fresh process for the next', async () => {
    const s = restore();
    await s.run('first\nCOMMIT\n');
    await expect(s.run('bad rule\nCOMMIT\n')).rejects.toThrow(/line failed: bad rule/);
    await s.run('again\nCOMMIT\n');
    expect(written()).toEqual(['first', 'again']);
    expect(s.supported).toBe(true);
  });

  it('comments of our own inside a transaction do not end it early', async () => {
    const s = restore();
    await s.run('# a comment of ours\nslow x\nCOMMIT\n');
    expect(written()).toEqual(['slow x']);
  });

  it('a tool that cannot start is marked unsupported, with the reason, so the caller runs it once per transaction', async () => {
    const s = session(restoreProtocol('/nonexistent/iptables-restore', []));
    await expect(s.run('x\nCOMMIT\n')).rejects.toThrow(/ENOENT/);
    expect(s.supported).toBe(false);
  });

  it('a tool that does not echo is marked unsupported, so the caller runs it once per transaction', async () => {
    const s = restore(SILENT);
    await expect(s.run('x\nCOMMIT\n')).rejects.toThrow(/no answer/);
    expect(s.supported).toBe(false);
  });
});

describe('ToolSession with interactive ipset', () => {
  it('resolves a request once every command in it has been carried out', async () => {
    const s = ipset();
    await s.run('add a 1\nslow add a 2\nadd a 3\n');
    expect(written()).toEqual(['add a 1', 'slow add a 2', 'add a 3']);
    await s.run('del a 1\n');
    expect(written()).toEqual(['add a 1', 'slow add a 2', 'add a 3', 'del a 1']);
  });

  it('fails a request the tool complains about, with its words, and replaces the process', async () => {
    const s = ipset();
    await s.run('add a 1\n');
    await expect(s.run('add a 2\nbad add a 3\nadd a 4\n')).rejects.toThrow(/refused bad add a 3/);
    await s.run('add a 5\n');
    expect(written()).toEqual(['add a 1', 'add a 2', 'add a 4', 'add a 5']);
  });

  it('an ipset whose wrapper is missing (no stdbuf) is marked unsupported', async () => {
    const s = ipset(`exec /nonexistent/stdbuf -o0 ipset -`);
    await expect(s.run('add a 1\n')).rejects.toThrow(/not found|No such file/);
    expect(s.supported).toBe(false);
  });

  it('blank lines are not commands: nothing waits for a prompt that never comes', async () => {
    const s = ipset();
    await s.run('\nadd a 1\n\n');
    expect(written()).toEqual(['add a 1']);
  });
});
