// Route driver: reconciles the kernel's main table against the desired routes through rtnetlink.
// Only routes carrying our protocol number are ever deleted; foreign routes are left alone.
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import type { DesiredRoute } from '../calc/types.js';
import { deleteKey, encodeRoute, MAIN_TABLE, NLM_F_CREATE, NLM_F_REPLACE, RTM_DELROUTE, RTM_NEWROUTE, sameRoute, TORTIE_PROTO, type KernelRoute } from './netlink-codec.js';
import { RouteSocket, type RouteOp } from './route-socket.js';

export interface RouteApplyResult {
  added: number;
  removed: number;
  unchanged: number;
  errors: string[];
}

export class RouteDriver {
  /** Links through the netlink package; the route table, large, through our own codec. */
  private readonly sock: RtNetlinkSocket = createRtNetlink();
  private readonly routes = new RouteSocket();

  async linkIndexes(): Promise<Map<string, number>> {
    const links = await this.sock.getLinks();
    const m = new Map<string, number>();
    for (const l of links) if (l.attrs.ifname !== undefined && l.data.index !== undefined) m.set(l.attrs.ifname, l.data.index);
    return m;
  }

  /** Every route in the main table, ours and foreign, with device names resolved. */
  async listRoutes(indexes?: Map<string, number>): Promise<KernelRoute[]> {
    const idx = indexes ?? (await this.linkIndexes());
    const names = new Map([...idx].map(([n, i]) => [i, n]));
    return (await this.routes.dump(names)).filter((r) => r.table === MAIN_TABLE);
  }

  async listOurs(): Promise<KernelRoute[]> {
    return (await this.listRoutes()).filter((r) => r.protocol === TORTIE_PROTO);
  }

  /** Makes our routes exactly `desired`: adds/replaces what differs, deletes our extras. */
  /** `keepExtra`: add and replace only, never delete (used while a restart re-learns its routes). */
  async apply(desired: readonly DesiredRoute[], keepExtra = false): Promise<RouteApplyResult> {
    const idx = await this.linkIndexes();
    const all = await this.listRoutes(idx);
    const ours = new Map(all.filter((r) => r.protocol === TORTIE_PROTO).map((r) => [r.dst, r]));
    const wanted = new Map(desired.map((r) => [r.dst, r]));
    const result: RouteApplyResult = { added: 0, removed: 0, unchanged: 0, errors: [] };
    const ops: RouteOp[] = [];
    const what: string[] = [];

    for (const [dst, have] of ours) {
      if (wanted.has(dst) || keepExtra) continue;
      ops.push({ msgType: RTM_DELROUTE, msgFlags: 0, req: deleteKey(have) });
      what.push(`delete ${dst}`);
    }
    const deletes = ops.length;
    for (const [dst, want] of wanted) {
      const have = ours.get(dst);
      if (have && sameRoute(want, have)) {
        result.unchanged++;
        continue;
      }
      const enc = encodeRoute(want, (n) => idx.get(n));
      if (typeof enc === 'string') {
        result.errors.push(`add ${dst}: ${enc}`);
        continue;
      }
      // REPLACE: a changed next hop is swapped in place, never a gap between delete and add.
      ops.push({ msgType: RTM_NEWROUTE, msgFlags: NLM_F_CREATE | NLM_F_REPLACE, req: enc });
      what.push(`add ${dst}`);
    }
    const failed = await this.routes.write(ops);
    failed.forEach((err, i) => {
      if (err !== undefined) result.errors.push(`${what[i]}: ${err}`);
      else if (i < deletes) result.removed++;
      else result.added++;
    });
    return result;
  }

  close(): void {
    this.sock.socket.close();
    this.routes.close();
  }
}
