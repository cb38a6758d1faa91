// `tortiectl ipam show|check|release|gc`: pool utilisation as calicoctl prints it, the consistency
// report, manual release and the garbage-collector loop. Formatting is pure (formatIpamShow).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { IpamClient } from '../../ipam/allocator.js';
import { inUseCount } from '../../ipam/block.js';
import { checkIpam, type CheckReport } from '../../ipam/check.js';
import { contains, formatCidr, parseCidr, parseIp, size } from '../../ipam/cidr.js';
import { IpamGc } from '../../ipam/gc.js';
import type { AllocationBlock } from '../../ipam/model.js';
import type { Pool } from '../../ipam/pools.js';
import type { CtlContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { boxTable } from './node-status.js';

// calicoctl rounds to the nearest percent.
const pct = (n: bigint, total: bigint): string => `${total === 0n ? 0 : Math.round((Number(n) * 100) / Number(total))}%`;

/** The calicoctl `ipam show` table: one row per pool, and per block with showBlocks. */
export function formatIpamShow(pools: Pool[], blocks: AllocationBlock[], showBlocks: boolean): string {
  const rows: string[][] = [];
  for (const p of pools) {
    const mine = blocks.filter((b) => {
      const c = parseCidr(b.cidr);
      return contains(p.cidr, c.family, c.base);
    });
    const total = size(p.cidr);
    const used = BigInt(mine.reduce((n, b) => n + inUseCount(b), 0));
    rows.push(['IP Pool', formatCidr(p.cidr), total.toString(), `${used} (${pct(used, total)})`, `${total - used} (${pct(total - used, total)})`]);
    if (showBlocks)
      for (const b of mine) {
        const bt = BigInt(b.allocations.length);
        const bu = BigInt(inUseCount(b));
        rows.push(['Block', b.cidr, bt.toString(), `${bu} (${pct(bu, bt)})`, `${bt - bu} (${pct(bt - bu, bt)})`]);
      }
  }
  return `${boxTable(['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS FREE'], rows)}\n`;
}

export function formatCheckSummary(r: CheckReport): string {
  const s = r.summary;
  return [
    `Checked ${s.blocks} blocks and ${s.allocations} allocations at revision ${r.revision}.`,
    `Leaked allocations (no WorkloadEndpoint / tunnel address of a missing node): ${s.leaked}`,
    `Duplicate addresses: ${s.duplicates}`,
    `Affinity problems: ${s.affinityProblems} (pending: ${s.pendingAffinities})`,
    `Blocks of deleted nodes: ${s.blocksOfDeletedNodes}`,
    `Handle count mismatches: ${s.handleMismatches}`,
    `Unreadable records: ${s.corrupt}`,
    '',
  ].join('\n');
}

async function showIp(ipam: IpamClient, ip: string): Promise<string> {
  let addr: { family: 4 | 6; value: bigint };
  try {
    addr = parseIp(ip);
  } catch (e) {
    throw new UsageError(`--ip: ${(e as Error).message}`);
  }
  for (const cidr of await ipam.listBlockCidrs()) {
    const c = parseCidr(cidr);
    if (!contains(c, addr.family, addr.value)) continue;
    const b = await ipam.getBlock(cidr);
    const idx = b?.block.allocations[Number(addr.value - c.base)];
    if (!b || idx === null || idx === undefined) break;
    const attr = b.block.attributes[idx];
    const lines = [`IP ${ip} is in use`, `Handle: ${attr?.handle_id ?? '(none)'}`, 'Attributes:'];
    for (const [k, v] of Object.entries(attr?.secondary ?? {})) lines.push(`  ${k}: ${v}`);
    return `${lines.join('\n')}\n`;
  }
  return `IP ${ip} is not assigned\n`;
}

export function registerIpam(program: Command, ctx: CtlContext): void {
  const ipamCmd = program.command('ipam').description('IP address management: utilisation, checks, release, garbage collection');
  const client = async (): Promise<IpamClient> => new IpamClient((await ctx.client()).store);

  ipamCmd
    .command('show')
    .description('show pool utilisation (like calicoctl ipam show)')
    .option('--show-blocks', 'also list every block')
    .option('--ip <ip>', 'show whether one address is in use and by whom')
    .action(async (opts: { showBlocks?: boolean; ip?: string }) => {
      const ipam = await client();
      if (opts.ip) {
        ctx.out.write(await showIp(ipam, opts.ip));
        return;
      }
      const pools = await ipam.listPools();
      const blocks: AllocationBlock[] = [];
      for (const cidr of await ipam.listBlockCidrs()) {
        const b = await ipam.getBlock(cidr);
        if (b) blocks.push(b.block);
      }
      ctx.out.write(formatIpamShow(pools, blocks, !!opts.showBlocks));
    });

  ipamCmd
    .command('check')
    .description('report leaked addresses, stale affinities and blocks of deleted nodes')
    .option('-o, --output <file>', 'write the full report as JSON (input for ipam release --from-report)')
    .action(async (opts: { output?: string }) => {
      const report = await checkIpam((await ctx.client()).store);
      ctx.out.write(formatCheckSummary(report));
      if (opts.output) {
        writeFileSync(opts.output, `${JSON.stringify(report, null, 2)}\n`);
        ctx.out.write(`Report written to ${opts.output}\n`);
      }
    });

  ipamCmd
    .command('release')
    .description('release one address, or every leak listed in an ipam check report')
    .option('--ip <ip>', 'the address to release')
    .option('--from-report <file>', 'a report written by ipam check -o')
    .action(async (opts: { ip?: string; fromReport?: string }) => {
      if (!!opts.ip === !!opts.fromReport) throw new UsageError('give exactly one of --ip or --from-report');
      const ipam = await client();
      let specs: { ip: string; sequenceNumber?: number }[];
      if (opts.ip) specs = [{ ip: opts.ip }];
      else {
        let report: CheckReport;
        try {
          report = JSON.parse(readFileSync(opts.fromReport!, 'utf8')) as CheckReport;
        } catch (e) {
          throw new CliError(`--from-report ${opts.fromReport}: ${(e as Error).message}`);
        }
        if (!Array.isArray(report.leaks)) throw new CliError(`--from-report ${opts.fromReport}: no "leaks" list; is this an ipam check report?`);
        // Sequence numbers from the report make an address re-allocated since the check safe.
        specs = report.leaks.map((l) => ({ ip: l.ip, sequenceNumber: l.sequenceNumber }));
      }
      const r = await ipam.releaseIps(specs);
      ctx.out.write(`Released ${r.released.length} address(es)${r.released.length ? `: ${r.released.join(', ')}` : ''}\n`);
      if (r.stale.length) ctx.out.write(`Skipped ${r.stale.length} re-allocated since the report: ${r.stale.join(', ')}\n`);
      if (r.notAllocated.length) ctx.out.write(`Not allocated: ${r.notAllocated.join(', ')}\n`);
      if (opts.ip && r.released.length === 0) throw new CliError(`${opts.ip} was not released`);
    });

  ipamCmd
    .command('gc')
    .description('release leaks seen twice across a grace period; fix pending and orphaned affinities')
    .option('--grace <seconds>', 'how long a finding must persist before it is acted on', '300')
    .option('--once', 'two passes one grace period apart, then exit')
    .action(async (opts: { grace: string; once?: boolean }) => {
      const grace = Number(opts.grace);
      if (!Number.isFinite(grace) || grace < 0) throw new UsageError(`--grace must be a number of seconds, got ${opts.grace}`);
      const gc = new IpamGc(await client(), { graceMs: grace * 1000 });
      const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
      for (let pass = 0; ; pass++) {
        const p = await gc.runOnce();
        ctx.out.write(
          `pass ${pass + 1}: ${p.report.summary.leaked} leak(s) seen; released ${p.releasedIps.length} address(es) of ${p.releasedHandles.length} handle(s); ` +
            `confirmed ${p.confirmedAffinities.length}, removed ${p.removedAffinities.length} affinities; freed ${p.releasedBlocks.length} block(s)\n`,
        );
        if (opts.once && pass >= 1) break;
        await sleep(opts.once ? grace * 1000 + 100 : Math.max(grace * 500, 1000));
      }
    });
}
