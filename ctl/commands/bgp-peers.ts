// `tortiectl bgp peers --node NAME [-o json]`: the peer set the BGP speaker on NAME would run,
// computed from the datastore by the pure generator (bgp/config) without starting anything. It
// answers "why is my node not peering?": the notes say which nodes, peers and routes were skipped.
import type { Command } from 'commander';
import { computeBgpConfig } from '../../bgp/config/generate.js';
import type { BgpConfig, BgpConfigInput, IPPoolInput } from '../../bgp/config/types.js';
import { prefixToString } from '../../bgp/types.js';
import { ReportedFailure } from '../errors.js';
import { formatTable } from '../output.js';

export interface BgpPeersDeps {
  /** Reads Nodes, BGPPeers, BGPConfigurations, IPPools and NAME's confirmed blocks from the datastore. */
  load(nodeName: string): Promise<Omit<BgpConfigInput, 'nodeName'>>;
  write?(text: string): void;
  writeErr?(text: string): void;
}

export const BGP_PEERS_HEADERS = ['NAME', 'PEER IP', 'AS', 'TYPE', 'PASSIVE', 'RR-CLIENT', 'SOURCE ADDRESS'] as const;

/** The exports as the speaker runs them: its own blocks to every peer; to an eBGP peer also every
 *  route it learned (other nodes' blocks among them), with itself as next hop — the speaker has no
 *  pool filter on learned routes, where Calico's BIRD export filter passes only routes inside a
 *  pool. iBGP split horizon keeps learned routes from iBGP peers. */
export function exportsText(cfg: BgpConfig, pools: readonly IPPoolInput[]): string {
  const own = cfg.exports.map((e) => prefixToString(e.prefix)).join(', ');
  const lines = [own ? `Exports: ${own} (this node's blocks and borrowed addresses, to every peer)` : 'Exports: none of its own (no block in an exporting pool)'];
  const ebgp = cfg.peers.filter((p) => p.asNumber !== cfg.asNumber).map((p) => p.name);
  const exporting = pools.filter((p) => !p.spec.disabled && !p.spec.disableBGPExport).map((p) => p.spec.cidr);
  if (ebgp.length) lines.push(`  to eBGP peers (${ebgp.join(', ')}) also: every route it learned${exporting.length ? ` (other nodes' blocks in ${exporting.join(', ')} among them)` : ''}, next hop this node`);
  if (ebgp.length && ebgp.length < cfg.peers.length) lines.push('  to iBGP peers also: the routes it learned from eBGP peers, next hop unchanged');
  return `${lines.join('\n')}\n`;
}

/** Per-peer security and filters, under the table (only for peers that have any). */
export function peerOptionsText(cfg: BgpConfig): string {
  const lines = cfg.peers.flatMap((p) => {
    const opts = [
      p.passwordRef ? `TCP-MD5 password from Secret ${p.passwordRef.name} key ${p.passwordRef.key}` : '',
      p.ttlSecurity ? `GTSM (ttlSecurity ${p.ttlSecurity})` : '',
      p.filters?.length ? `filters ${p.filters.map((f) => f.name).join(', ')} (in this order)` : '',
    ].filter(Boolean);
    return opts.length ? [`  ${p.name}: ${opts.join('; ')}`] : [];
  });
  return lines.length ? `\nPeer options:\n${lines.join('\n')}\n` : '';
}

export function formatBgpPeers(cfg: BgpConfig, pools: readonly IPPoolInput[] = []): string {
  const head = [
    `Node ${cfg.nodeName}: router id ${cfg.routerId}, AS ${cfg.asNumber}, listen port ${cfg.listenPort}` +
      `${cfg.clusterId ? `, route reflector cluster ${cfg.clusterId}` : ''}, node-to-node mesh ${cfg.meshEnabled ? 'on' : 'off'}`,
    '',
  ].join('\n');
  const table = cfg.peers.length
    ? formatTable(
        [...BGP_PEERS_HEADERS],
        cfg.peers.map((p) => [p.name, p.port !== undefined ? `${p.address} port ${p.port}` : p.address, p.asNumber, p.type, p.passive ? 'yes' : 'no', p.rrClient ? 'yes' : 'no', p.sourceAddress ?? '']),
      )
    : 'No BGP peers.\n';
  const exports = `${peerOptionsText(cfg)}\n${exportsText(cfg, pools)}`;
  const notes = cfg.notes.length ? `\nNotes:\n${cfg.notes.map((n) => `  - ${n}`).join('\n')}\n` : '';
  return `${head}\n${table}${exports}${notes}`;
}

export function formatBgpPeersJson(cfg: BgpConfig): string {
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

export async function bgpPeers(nodeName: string, output: string, deps: BgpPeersDeps): Promise<{ text: string; code: number }> {
  if (output !== 'table' && output !== 'json') return { text: `unknown output format ${JSON.stringify(output)} (use table or json)\n`, code: 2 };
  let cfg: BgpConfig;
  let pools: readonly IPPoolInput[] = [];
  try {
    const input = await deps.load(nodeName);
    pools = input.pools;
    cfg = computeBgpConfig({ nodeName, ...input });
  } catch (err) {
    return { text: `${(err as Error).message}\n`, code: 1 };
  }
  return { text: output === 'json' ? formatBgpPeersJson(cfg) : formatBgpPeers(cfg, pools), code: 0 };
}

export function registerBgpPeers(program: Command, deps: BgpPeersDeps): void {
  const bgp = program.commands.find((c) => c.name() === 'bgp') ?? program.command('bgp').description('BGP configuration as the speaker sees it');
  bgp
    .command('peers')
    .description('print the BGP peer set computed for a node, without running anything')
    .requiredOption('--node <name>', 'node name')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { node: string; output: string }) => {
      const r = await bgpPeers(opts.node, opts.output, deps);
      (r.code === 0 ? (deps.write ?? ((t: string) => process.stdout.write(t))) : (deps.writeErr ?? ((t: string) => process.stderr.write(t))))(r.text);
      if (r.code !== 0) throw new ReportedFailure(r.code);
    });
}
