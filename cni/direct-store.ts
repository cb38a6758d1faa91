// CniStore over the datastore and ipam/ in this process: what tortie-node serves on its CNI socket,
// and the plugins' own path when no agent answers. Calls that find the datastore unavailable (no
// answer within one call's budget, a refused connection) are retried until the command's deadline.
import { DatastoreError, type ObjectKey, type Store, type StoredValue } from '../datastore/store.js';
import { untilDeadline } from '../datastore/retry.js';
import type { AssignArgs, IpamClient } from '../ipam/allocator.js';
import { IpamError } from '../ipam/errors.js';
import { readPod, type PodInfo } from './k8s.js';
import type { AssignRequest, CniStore, EndpointRef, GcReport, GcRequest } from './store.js';

const endpointKey = (ref: EndpointRef): ObjectKey => ({ kind: 'WorkloadEndpoint', name: ref.name, namespace: ref.namespace });

function ignoreGone(e: unknown): void {
  if (e instanceof DatastoreError && (e.code === 'NotFound' || e.code === 'Conflict')) return;
  throw e;
}

interface WepSpec {
  spec?: { node?: string; containerID?: string; ipNetworks?: string[] };
  metadata?: { name?: string; namespace?: string };
}

function wepOf(value: StoredValue): WepSpec {
  return value as WepSpec;
}

/** What a handle holds answers an ADD of num4 + num6 only if it has that many of each family (a part, left by a failure between two block writes, is started over). */
function coversFamilies(held: string[], req: AssignRequest): boolean {
  const v6 = held.filter((ip) => ip.includes(':')).length;
  return held.length - v6 >= req.num4 && v6 >= req.num6;
}

function assignArgs(req: AssignRequest, newHandle: boolean): AssignArgs {
  return { handleId: req.handle, hostname: req.node, attrs: req.attrs, num4: req.num4, num6: req.num6, ipv4Pools: req.ipv4Pools, ipv6Pools: req.ipv6Pools, newHandle };
}

export class DirectStore implements CniStore {
  constructor(
    private readonly store: Store,
    private readonly ipam: IpamClient,
    /** Epoch ms by which the command must have its answer. */
    private readonly deadline: number,
    readonly description = 'the datastore',
    private readonly onClose: () => Promise<void> = async () => undefined,
    /** Runs a block-writing call exclusively on this host (the plugins' own path: the host's IPAM lock). */
    private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {}

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return untilDeadline(this.deadline, fn);
  }

  pod(kubeconfig: string, namespace: string, name: string): Promise<PodInfo> {
    // The command's own budget (timeout_seconds): 100 plugins starting at once can take seconds to get
    // an answer, and a silent apiserver is still reported by the deadline.
    return readPod(kubeconfig, namespace, name, Math.max(500, this.deadline - Date.now()));
  }

  held(handle: string): Promise<string[]> {
    return this.retry(() => this.ipam.ipsByHandle(handle));
  }

  /**
   * Idempotent: a retried ADD (or a retry here after a lost reply) gets what the handle already holds.
   * A first ADD is the common case, so it does not read the handle first: it creates it, and only
   * when that finds one already there does it ask what the handle holds (one read fewer per pod).
   */
  assign(req: AssignRequest): Promise<string[]> {
    return this.exclusive(() => this.retry(async () => {
      if (!req.requested) {
        try {
          return await this.autoAssign(req, true);
        } catch (e) {
          if (!(e instanceof IpamError && e.code === 'HandleExists')) throw e;
        }
      }
      const held = await this.ipam.ipsByHandle(req.handle);
      if (held.length > 0 && (req.requested ? req.requested.every((ip) => held.includes(ip)) : coversFamilies(held, req))) return held;
      if (held.length > 0) await this.ipam.releaseByHandle(req.handle);
      if (req.requested) {
        const ips: string[] = [];
        try {
          for (const ip of req.requested) ips.push((await this.ipam.assignIp(ip, req.handle, req.node, req.attrs)).ip);
        } catch (e) {
          await this.ipam.releaseByHandle(req.handle).catch(() => undefined);
          throw e;
        }
        return ips;
      }
      return this.autoAssign(req, false);
    }));
  }

  /**
   * ADDs that queued together on this host (a burst of new pods), grouped into one block write where
   * they can be (ipam/group-assign.ts). Undefined at index i: not grouped — it is assign()ed by
   * itself, which also reports any error. The caller holds the node's line for block writes
   * (cni/block-queue.ts).
   */
  async assignGroup(reqs: AssignRequest[]): Promise<(string[] | undefined)[]> {
    const firsts = reqs.flatMap((r, i) => (r.requested ? [] : [i]));
    const out: (string[] | undefined)[] = reqs.map(() => undefined);
    const outcomes = await this.ipam.assignGroup(firsts.map((i) => assignArgs(reqs[i], true)));
    outcomes.forEach((o, k) => {
      if (o !== 'alone') out[firsts[k]] = o.map((a) => a.ip);
    });
    return out;
  }

  private async autoAssign(req: AssignRequest, newHandle: boolean): Promise<string[]> {
    const r = await this.ipam.autoAssign(assignArgs(req, newHandle));
    return [...r.ipv4, ...r.ipv6].map((a) => a.ip);
  }

  release(handle: string): Promise<void> {
    return this.exclusive(() => this.releaseHeld(handle));
  }

  private async releaseHeld(handle: string): Promise<void> {
    await this.retry(() => this.ipam.releaseByHandle(handle));
  }

  async putEndpoint(wep: Record<string, unknown>): Promise<void> {
    const meta = wep.metadata as { name: string; namespace: string };
    const key = endpointKey(meta);
    const value = wep as unknown as StoredValue;
    await this.retry(async () => {
      // A new pod's is the common case: one write. A WEP of an earlier sandbox of the same pod is replaced (the pod was restarted).
      try {
        await this.store.create(value);
      } catch (e) {
        if (!(e instanceof DatastoreError && e.code === 'AlreadyExists')) throw e;
        const existing = await this.store.get(key);
        if (existing) await this.store.update(value, existing.revision);
        else await this.store.create(value);
      }
    });
  }

  removeEndpoint(ref: EndpointRef, containerId: string): Promise<string[]> {
    const key = endpointKey(ref);
    return this.retry(async () => {
      const cur = await this.store.get(key);
      if (!cur) return [];
      const spec = wepOf(cur.value).spec;
      // Only the sandbox that made it removes it: a DEL for an old container must not delete the new one's.
      if (!spec?.containerID || spec.containerID === containerId) await this.store.delete(key, cur.revision).catch(ignoreGone);
      return spec?.ipNetworks ?? [];
    });
  }

  hasEndpoint(ref: EndpointRef): Promise<boolean> {
    return this.retry(async () => (await this.store.get(endpointKey(ref))) !== undefined);
  }

  /**
   * CNI GC: this node's addresses under the network's handles, and its WorkloadEndpoints, whose
   * container is not among the runtime's valid attachments.
   */
  gc(req: GcRequest): Promise<GcReport> {
    return this.exclusive(() => this.gcHeld(req));
  }

  private async gcHeld(req: GcRequest): Promise<GcReport> {
    const valid = new Set(req.validContainerIds);
    const prefix = `${req.network}.`;
    const stale = new Set<string>();
    for (const cidr of await this.retry(() => this.ipam.listBlockCidrs())) {
      const b = await this.retry(() => this.ipam.getBlock(cidr));
      for (const a of b?.block.attributes ?? []) {
        const h = a.handle_id;
        if (h?.startsWith(prefix) && a.secondary?.node === req.node && !valid.has(h.slice(prefix.length))) stale.add(h);
      }
    }
    for (const h of stale) await this.releaseHeld(h);
    const removedEndpoints: string[] = [];
    const weps = await this.retry(() => this.store.list('WorkloadEndpoint'));
    for (const obj of weps.items) {
      const spec = wepOf(obj.value).spec;
      if (spec?.node !== req.node || !spec.containerID || valid.has(spec.containerID)) continue;
      await this.retry(() => this.store.delete(obj.key, obj.revision)).catch(ignoreGone);
      removedEndpoints.push(`${obj.key.namespace ?? ''}/${obj.key.name}`);
    }
    return { releasedHandles: [...stale], removedEndpoints };
  }

  async status(): Promise<void> {
    await this.retry(() => this.ipam.listPools());
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
