import { describe, expect, it } from 'vitest';
import { runCtl } from './program.js';

// Nothing here reaches a datastore: usage errors are caught before a client is opened.
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCtl(args, { out: { write: (s) => (out += s) }, err: { write: (s) => (err += s) }, env: { ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
  return { code, out, err };
}

describe('runCtl exit codes', () => {
  it('--help exits 0 and lists the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['create', 'apply', 'replace', 'delete', 'get', 'patch', 'label', 'validate', 'config']) expect(r.out).toContain(c);
  });
  it.each([
    [['frobnicate']],
    [['get']],
    [['apply']],
    [['get', 'ippools', '-o', 'xml']],
    [['get', 'ippools', '-n', 'a', '-A']],
    [['patch', 'ippool', 'p', '-p', 'not json']],
    [['label', 'node', 'n', 'nonsense']],
    [['config', 'set', 'asNumber', 'zero']],
    [['config', 'get', 'logLevel']],
    [['delete', 'ippool']],
  ])('%j is a usage error (exit 2)', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error/);
  });
  it('a missing -f file is a failure (exit 1) naming the file', async () => {
    const r = await run(['validate', '-f', '/nonexistent/x.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: cannot read /nonexistent/x.yaml: no such file\n');
  });
  it('node status with no BGP process exits 1, as calicoctl does', async () => {
    const r = await run(['node', 'status', '--api', 'unix:/nonexistent/gobgp.sock']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Tortie process is not running\.\n.*gobgp\.sock/s);
  });
  it('bgp peers with an unknown output format exits 2', async () => {
    const r = await run(['bgp', 'peers', '--node', 'n', '-o', 'xml']);
    expect(r.code).toBe(2);
  });
});
