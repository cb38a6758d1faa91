// IPIP for real: this kernel has no ipip module, so the lab runs inside Debian's own kernel under
// qemu (test/vm). IPIP Always encapsulates between all nodes; CrossSubnet only between subnets.
// Skipped (with the reason) where qemu or the Debian kernel are not installed.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runInVm, vmUnavailable } from '../vm/vm.js';

const repo = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const why = vmUnavailable() ?? (existsSync(`${repo}/dist/lab/main.js`) ? undefined : 'dist/ not built (npm run build)');

function section(out: string, name: string): string[] {
  const start = out.indexOf(`== ${name}`);
  if (start < 0) return [];
  const rest = out.slice(start + name.length + 3);
  const end = rest.indexOf('\n== ');
  return (end < 0 ? rest : rest.slice(0, end)).split('\n').map((l) => l.replace(/\r$/, ''));
}

const subnetOf = (ip: string): string => ip.split('.').slice(0, 3).join('.');

describe.skipIf(why !== undefined)(`IPIP in a VM${why ? ` (skipped: ${why})` : ''}`, () => {
  // TCG emulation is slow and scales with host load: at load ~20 on 2 cores the Always half alone
  // took ~9 min and 14 min were not enough for both, hence the margin.
  it('Always and CrossSubnet: all pods reach, IP protocol 4 only where expected', { timeout: 1_560_000 }, async () => {
    const r = await runInVm({ command: 'sh test/vm/ipip-lab.sh', cwd: repo, shareRw: repo, timeoutMs: 1_500_000 });
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    for (const mode of ['always', 'cross']) {
      const all = section(r.output, `mode ${mode}`).join('\n');
      expect(all, mode).toMatch(/^12\/12 reachable/m);
      // Blank "CAP " lines come from the capture files' ends over the serial console; skip them.
      const caps = section(r.output, `capture ${mode}`).filter((l) => l.startsWith('CAP ') && l.slice(4).trim() !== '');
      expect(caps.length, mode).toBeGreaterThan(0);
      const pairs = caps.map((l) => /IP (\d+\.\d+\.\d+\.\d+) > (\d+\.\d+\.\d+\.\d+): IP/.exec(l)).filter((m) => m !== null);
      expect(pairs.length, caps.filter((l) => !/: IP /.test(l)).join('\n')).toBe(caps.length);
      const sameSubnet = pairs.filter((m) => subnetOf(m[1] ?? '') === subnetOf(m[2] ?? '')).length;
      if (mode === 'always') expect(sameSubnet, 'Always encapsulates within a subnet too').toBeGreaterThan(0);
      else expect(sameSubnet, 'CrossSubnet never encapsulates within a subnet').toBe(0);
      const routes = section(r.output, `routes ${mode}`).filter((l) => l.startsWith('ROUTE '));
      expect(routes.some((l) => / dev tunl0 onlink/.test(l))).toBe(true);
    }
  });
});
