// IPIP for real: this kernel has no ipip module, so the lab runs inside Debian's own kernel under
// qemu (test/vm) — the whole stack, as `tortie-lab up` builds it: etcd in its namespace, tortie-node
// with its BGP speaker on every host, pods through the CNI plugin. 3 hosts: node1 and node2 on
// segment 0, node3 on segment 1. IPIP Always encapsulates between all hosts; CrossSubnet only
// between the segments (the same lab, its pool patched from Always to CrossSubnet: start-up is
// what costs under emulation). The remote blocks' routes must be ones BGP taught: every session
// Established, and each kernel route matches a route the speaker learned from that very peer.
// Skipped (with the reason) where qemu or the Debian kernel are not installed.
import { fileURLToPath } from 'node:url';
import { appendFileSync, existsSync } from 'node:fs';
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
const addr = (cidr: string): string => cidr.split('/')[0] ?? '';

interface VmStatus {
  nodes: Array<{
    name: string;
    ip: string;
    blocks: string[];
    sessions?: Record<string, number>;
    peers?: Array<{ address: string; state: string }>;
    speakerError?: string;
    bgpRoutes?: Array<{ prefix: string; nextHops: string[]; sourcePeer: string }>;
  }>;
  pods: Array<{ name: string; node: string; ip: string }>;
}

describe.skipIf(why !== undefined)(`IPIP in a VM, agent mode${why ? ` (skipped: ${why})` : ''}`, () => {
  // TCG emulation is slow and scales with host load; the VM's own budget (timeoutMs) is the hang
  // guard, vitest's a little longer so the VM's output reaches the failure message.
  it('Always and CrossSubnet: all pods reach, IP protocol 4 only where expected, routes from BGP', { timeout: 2_460_000 }, async () => {
    // TORTIE_VM_LOG=FILE streams the VM's console there while it runs (to watch a slow run).
    const logFile = process.env.TORTIE_VM_LOG;
    const r = await runInVm({
      command: 'sh test/vm/ipip-lab.sh',
      cwd: repo,
      shareRw: repo,
      memoryMb: 3072,
      timeoutMs: 2_400_000,
      ...(logFile ? { onOutput: (s: string) => appendFileSync(logFile, s) } : {}),
    });
    // Where the time went (the lab's progress lines and the script's checkpoints).
    console.log(r.output.split('\n').filter((l) => /^(==> |TOOK )/.test(l)).join('\n'));
    expect(r.exitCode, r.output.slice(-6000)).toBe(0);
    for (const mode of ['always', 'cross']) {
      const statusLine = section(r.output, `status ${mode}`).find((l) => l.startsWith('STATUS '));
      expect(statusLine, `${mode}: no status line`).toBeDefined();
      const st = JSON.parse(statusLine?.slice('STATUS '.length) ?? '{}') as VmStatus;
      expect(st.nodes.map((n) => n.name), mode).toEqual(['node1', 'node2', 'node3']);
      expect(st.pods, mode).toHaveLength(3);

      const all = section(r.output, `mode ${mode}`).join('\n');
      expect(all, mode).toMatch(/^6\/6 reachable/m);

      // Blank "CAP " lines come from the capture files' ends over the serial console; skip them.
      const caps = section(r.output, `capture ${mode}`).filter((l) => l.startsWith('CAP ') && l.slice(4).trim() !== '');
      expect(caps.length, mode).toBeGreaterThan(0);
      const pairs = caps.map((l) => /IP (\d+\.\d+\.\d+\.\d+) > (\d+\.\d+\.\d+\.\d+): IP/.exec(l)).filter((m) => m !== null);
      expect(pairs.length, caps.filter((l) => !/: IP /.test(l)).join('\n')).toBe(caps.length);
      const sameSubnet = pairs.filter((m) => subnetOf(m[1] ?? '') === subnetOf(m[2] ?? '')).length;
      expect(pairs.length - sameSubnet, `${mode}: encapsulated between subnets`).toBeGreaterThan(0);
      if (mode === 'always') expect(sameSubnet, 'Always encapsulates within a subnet too').toBeGreaterThan(0);
      else expect(sameSubnet, 'CrossSubnet never encapsulates within a subnet').toBe(0);

      const routeLines = section(r.output, `routes ${mode}`).filter((l) => l.startsWith('ROUTE '));
      for (const n of st.nodes) {
        const others = st.nodes.filter((x) => x !== n);
        // BGP: a session with each other host, Established (the speaker's peers and its metric agree).
        expect(n.peers?.map((p) => p.address).sort(), `${mode} ${n.name} peers${n.speakerError ? ` (speaker: ${n.speakerError})` : ''}`).toEqual(others.map((x) => addr(x.ip)).sort());
        expect(n.peers?.every((p) => p.state === 'Established'), `${mode} ${n.name}: ${JSON.stringify(n.peers)}`).toBe(true);
        expect(n.sessions?.Established, `${mode} ${n.name} sessions`).toBe(others.length);
        const routes = routeLines.filter((l) => l.startsWith(`ROUTE ${n.name} `)).map((l) => l.slice(`ROUTE ${n.name} `.length).trim());
        for (const b of n.blocks) expect(routes, `${mode} ${n.name}`).toContain(`blackhole ${b}`);
        for (const peer of others) {
          const via = addr(peer.ip);
          const tunnel = mode === 'always' || subnetOf(via) !== subnetOf(addr(n.ip));
          expect(peer.blocks.length, `${mode} ${peer.name} blocks`).toBeGreaterThan(0);
          for (const b of peer.blocks) {
            // Learned over BGP from that peer, with the peer as next hop…
            const learned = n.bgpRoutes?.find((x) => x.prefix === b);
            expect(learned, `${mode} ${n.name}: ${b} not learned over BGP: ${JSON.stringify(n.bgpRoutes)}`).toBeDefined();
            expect(learned?.sourcePeer, `${mode} ${n.name} ${b}`).toBe(via);
            expect(learned?.nextHops, `${mode} ${n.name} ${b}`).toEqual([via]);
            // …and programmed by felix: through tunl0 where IPIP applies, straight out of eth0 where not.
            const want = tunnel ? `${b} via ${via} dev tunl0 onlink` : `${b} via ${via} dev eth0`;
            expect(routes.some((l) => l === want || l.startsWith(`${want} `)), `${mode} ${n.name}: no "${want}" in\n${routes.join('\n')}`).toBe(true);
          }
        }
      }
    }
  });
});
