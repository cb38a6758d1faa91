// IPAM garbage collector. It acts on a finding only when it has seen the very same finding (same
// sequence number / mod revision) in two passes at least `graceMs` apart, so a CNI ADD that has
// allocated but not yet written its WorkloadEndpoint, or a claimer between its phases, is left alone.
// Leaks are released all-or-nothing per handle, each address guarded by its sequence number.
import { DatastoreError } from '../datastore/backend.js';
import { blockAffinityKey } from '../datastore/keys.js';
import type { IpamClient } from './allocator.js';
import { analyse, snapshot, type CheckReport } from './check.js';
import { familyOfCidr } from './model.js';

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
    const be = this.ipam.backend;
    const snap = await snapshot(be);
    const report = analyse(snap);
    const next = new Map<string, number>();
    const pass: GcPass = { report, releasedIps: [], releasedHandles: [], confirmedAffinities: [], removedAffinities: [], releasedBlocks: [] };

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
      if (!this.ripe(`aff:${a.host}:${a.cidr}:${a.modRevision}`, next)) continue;
      const b = blocks.get(a.cidr);
      const ours = b?.affinity === `host:${a.host}`;
      const key = blockAffinityKey(a.host, a.cidr, familyOfCidr(a.cidr));
      if (a.problem === 'pending' && a.state === 'pending' && ours && snap.nodes.has(a.host)) {
        // The claimer died after creating the block: finish its work.
        await be.update(key, JSON.stringify({ state: 'confirmed', deleted: false }), a.modRevision).then(
          () => pass.confirmedAffinities.push(`${a.host}/${a.cidr}`),
          ignoreConflict,
        );
      } else if (!ours) {
        // No block of ours behind it: remove, guarded by the revision we saw twice.
        await be.delete(key, a.modRevision).then(() => pass.removedAffinities.push(`${a.host}/${a.cidr}`), ignoreConflict);
      } else if (!snap.nodes.has(a.host) || a.state === 'pendingDeletion') {
        if (await this.ipam.releaseAffinity(a.host, a.cidr)) pass.releasedBlocks.push(a.cidr);
      }
    }
    this.seen = next;
    return pass;
  }
}

function ignoreConflict(e: unknown): void {
  if (e instanceof DatastoreError && (e.code === 'Conflict' || e.code === 'NotFound')) return;
  throw e;
}
