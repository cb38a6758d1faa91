// IPAM garbage collector. It acts on a finding only when it has seen the very same finding (same
// sequence number / mod revision) in two passes at least `graceMs` apart, so a CNI ADD that has
// allocated but not yet written its WorkloadEndpoint, or a claimer between its phases, is left alone.
// Leaks are released all-or-nothing per handle, each address guarded by its sequence number. A handle
// that counts more than its blocks hold (an allocator died between its handle and block writes) is
// set to what the blocks hold, compare-and-swap on the handle revision seen in both passes.
import type { IpamClient } from './allocator.js';
import { affinityKey, affinityValue, handleValue, isCasMiss } from './records.js';
import { analyse, snapshot, type CheckReport } from './check.js';

export interface GcOptions {
  graceMs: number;
  now?: () => number;
}

export interface GcPass {
  report: CheckReport;
  releasedIps: string[];
  releasedHandles: string[];
  confirmedAffinities: string[];
  removedAffinities: string[];
  releasedBlocks: string[];
  correctedHandles: string[];
}

export class IpamGc {
  /** finding id → when first seen */
  private seen = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly ipam: IpamClient,
    private readonly opts: GcOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** True when this finding was seen in an earlier pass at least graceMs ago. */
  private ripe(id: string, next: Map<string, number>): boolean {
    const first = this.seen.get(id) ?? this.now();
    next.set(id, first);
    return this.seen.has(id) && this.now() - first >= this.opts.graceMs;
  }

  async runOnce(): Promise<GcPass> {
    const store = this.ipam.store;
    const snap = await snapshot(store);
    const report = analyse(snap);
    const next = new Map<string, number>();
    const pass: GcPass = { report, releasedIps: [], releasedHandles: [], confirmedAffinities: [], removedAffinities: [], releasedBlocks: [], correctedHandles: [] };

    // Leaks, grouped by handle: release only if every address of the handle is a ripe leak.
    const byHandle = new Map<string, typeof report.leaks>();
    for (const l of report.leaks) {
      const k = l.handle ?? `ip:${l.ip}`;
      byHandle.set(k, [...(byHandle.get(k) ?? []), l]);
    }
    const held = new Map<string, number>();
    for (const b of snap.blocks)
      b.block.allocations.forEach((idx) => {
        const h = idx === null ? null : b.block.attributes[idx]?.handle_id;
        if (h) held.set(h, (held.get(h) ?? 0) + 1);
      });
    for (const [handle, leaks] of byHandle) {
      const ripe = leaks.map((l) => this.ripe(`leak:${l.ip}:${l.sequenceNumber}`, next)).every(Boolean);
      const whole = handle.startsWith('ip:') || held.get(handle) === leaks.length;
      if (!ripe || !whole) continue;
      const r = await this.ipam.releaseIps(leaks.map((l) => ({ ip: l.ip, sequenceNumber: l.sequenceNumber })));
      pass.releasedIps.push(...r.released);
      if (!handle.startsWith('ip:')) pass.releasedHandles.push(handle);
    }

    // Affinities: pending ones left by dead claimers, orphans, and those of deleted nodes.
    const blocks = new Map(snap.blocks.map((b) => [b.cidr, b.block]));
    for (const a of report.affinities) {
      if (!this.ripe(`aff:${a.host}:${a.cidr}:${a.revision}`, next)) continue;
      const b = blocks.get(a.cidr);
      const ours = b?.affinity === `host:${a.host}`;
      if (a.problem === 'pending' && a.state === 'pending' && ours && snap.nodes.has(a.host)) {
        // The claimer died after creating the block: finish its work.
        await store.update(affinityValue(a.host, a.cidr, 'confirmed'), a.revision).then(
          () => pass.confirmedAffinities.push(`${a.host}/${a.cidr}`),
          ignoreConflict,
        );
      } else if (!ours) {
        // No block of ours behind it: remove, guarded by the revision we saw twice.
        await store.delete(affinityKey(a.host, a.cidr), a.revision).then(() => pass.removedAffinities.push(`${a.host}/${a.cidr}`), ignoreConflict);
      } else if (!snap.nodes.has(a.host) || a.state === 'pendingDeletion') {
        if (await this.ipam.releaseAffinity(a.host, a.cidr)) pass.releasedBlocks.push(a.cidr);
      }
    }

    // Handles that count more than the blocks hold: set them to the blocks' counts.
    const byHandleId = new Map<string, typeof report.handleMismatches>();
    for (const m of report.handleMismatches) {
      if (m.handleRevision === undefined || m.handleCount < m.blockCount) continue;
      byHandleId.set(m.handle, [...(byHandleId.get(m.handle) ?? []), m]);
    }
    for (const [id, ms] of byHandleId) {
      const rev = ms[0].handleRevision ?? '';
      const ripe = ms.map((m) => this.ripe(`handle:${id}:${rev}:${m.block}:${m.blockCount}`, next)).every(Boolean);
      const h = snap.handles.get(id);
      if (!ripe || !h) continue;
      const block = { ...h.block };
      for (const m of ms) {
        if (m.blockCount > 0) block[m.block] = m.blockCount;
        else delete block[m.block];
      }
      const write =
        Object.keys(block).length === 0 ? store.delete({ kind: 'IPAMHandle', name: id }, rev) : store.update(handleValue({ ...h, block }), rev);
      await write.then(() => pass.correctedHandles.push(id), ignoreConflict);
    }
    this.seen = next;
    return pass;
  }
}

function ignoreConflict(e: unknown): void {
  if (!isCasMiss(e)) throw e;
}
