// `tortiectl node status [--api ADDRESS]`: the BGP process state and its peers, printed like
// `calicoctl node status` (process line, then IPv4 and IPv6 tables). Data comes from the
// speaker's management API, GoBGP's gRPC API; formatting is pure and unit-tested.
import type { Command } from 'commander';
import ipaddr from 'ipaddr.js';
import { defaultApiAddress, GobgpClient, type BgpProcessInfo } from '../../bgp/api/gobgp/client.js';
import type { PeerStatus, PeerType } from '../../bgp/speaker/types.js';
import type { CtlContext } from '../context.js';
import { ReportedFailure } from '../errors.js';

const PEER_TYPE_NAMES: Record<PeerType, string> = {
  mesh: 'node-to-node mesh',
  global: 'global',
  node: 'node specific',
};

/** BIRD-style protocol state, which is what calicoctl shows in STATE. */
export function stateWord(fsmState: string): string {
  if (fsmState === 'Established') return 'up';
  return fsmState === 'Idle' ? 'down' : 'start';
}

/** HH:MM:SS for today, else YYYY-MM-DD (BIRD's "since" column). */
export function sinceText(iso: string, now: Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '?';
  const day = d.toISOString().slice(0, 10);
  return day === now.toISOString().slice(0, 10) ? d.toISOString().slice(11, 19) : day;
}

export function infoText(p: PeerStatus): string {
  if (p.state === 'Established') return 'Established';
  return p.info ? `${p.state} ${p.info}` : p.state;
}

/** A calicoctl-style boxed table. */
export function boxTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const center = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const fmt = (cells: string[], head: boolean): string => `|${cells.map((c, i) => ` ${head ? center(c, widths[i]) : c.padEnd(widths[i])} `).join('|')}|`;
  return [line, fmt(headers, true), line, ...rows.map((r) => fmt(r, false)), line].join('\n');
}

function compareAddresses(a: string, b: string): number {
  const bytes = (s: string): number[] => (ipaddr.isValid(s) ? ipaddr.parse(s).toByteArray() : []);
  const x = bytes(a);
  const y = bytes(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length || a.localeCompare(b);
}

export function formatNodeStatus(status: BgpProcessInfo | undefined, peers: PeerStatus[], now = new Date()): string {
  if (!status) return 'Tortie process is not running.\n';
  const out = ['Tortie process is running.', ''];
  for (const fam of [4, 6] as const) {
    // By address, as calicoctl's table reads (BIRD's protocols are named after them): stable whatever order sessions came up in.
    const mine = peers.filter((p) => (p.address.includes(':') ? 6 : 4) === fam).sort((a, b) => compareAddresses(a.address, b.address));
    out.push(`IPv${fam} BGP status`);
    if (!mine.length) out.push(`No IPv${fam} peers found.`);
    else
      out.push(
        boxTable(
          ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'],
          mine.map((p) => [p.address, PEER_TYPE_NAMES[p.type] ?? p.type, stateWord(p.state), sinceText(p.since, now), infoText(p)]),
        ),
      );
    // Hints stay under the table: they are sentences, too long for a column.
    for (const p of mine) if (p.hint) out.push(`${p.address}: ${p.hint}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** Reads the process and its peers from the API at `address` (host:port or unix:/path). */
export async function nodeStatus(address: string): Promise<{ text: string; code: number }> {
  const client = new GobgpClient(address);
  try {
    let status: BgpProcessInfo;
    try {
      status = await client.getBgp();
    } catch (err) {
      return { text: `${formatNodeStatus(undefined, [])}${(err as Error).message}\n`, code: 1 };
    }
    return { text: formatNodeStatus(status, await client.peers()), code: 0 };
  } finally {
    client.close();
  }
}

export function registerNodeStatus(program: Command, ctx: CtlContext): void {
  const node = program.commands.find((c) => c.name() === 'node') ?? program.command('node').description('Tortie node commands');
  node
    .command('status')
    .description('show the BGP process state and its peers (like calicoctl node status)')
    .option('--api <address>', 'GoBGP API of the BGP process: host:port or unix:/path (default: the first of TORTIE_GOBGP_API_HOSTS, else 127.0.0.1:50051)', defaultApiAddress())
    .action(async (opts: { api: string }) => {
      const r = await nodeStatus(opts.api);
      // calicoctl prints "Calico process is not running." and exits 1.
      (r.code === 0 ? ctx.out : ctx.err).write(r.text);
      if (r.code !== 0) throw new ReportedFailure(r.code);
    });
}
