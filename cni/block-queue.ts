// The line that a node's block-writing CNI calls wait in (tortie-node's CNI socket). They run one
// at a time: concurrent ADDs on one node would all compare-and-swap the same block, and all but
// one retry (measured: 20 ADDs at once spent up to 1.4 s each in assign that way). While one call
// runs, the ADDs that queue up behind it form a group, committed together in one block write when
// their turn comes (DirectStore.assignGroup); those it cannot group are assigned one by one in the
// same turn. A call still waiting at its deadline is failed without running.
import type { DirectStore } from './direct-store.js';
import type { AssignRequest } from './store.js';

interface Waiting {
  req: AssignRequest;
  deadline: number;
  resolve(ips: string[]): void;
  reject(err: unknown): void;
}

export class BlockWriteQueue {
  private tail: Promise<void> = Promise.resolve();
  /** The group still forming: ADDs that joined after the call ahead of them started. */
  private forming: Waiting[] | undefined;

  constructor(
    /** A store for calls with this deadline (DirectStore retries until it). */
    private readonly open: (deadline: number) => DirectStore,
    /** The error for a call whose deadline passed while it waited. */
    private readonly late: (op: string) => Error,
    /** Told how each ADD that got its addresses was served: in a group, or alone (metrics). */
    private readonly served: (how: 'grouped' | 'alone') => void = () => undefined,
  ) {}

  /** Runs fn when every block write queued before it is done (not at all once past the deadline). */
  run<T>(op: string, deadline: number, fn: () => Promise<T>): Promise<T> {
    const work = this.tail.then(() => (Date.now() < deadline ? fn() : Promise.reject(this.late(op))));
    this.tail = work.then(
      () => undefined,
      () => undefined,
    );
    return work;
  }

  /** DirectStore.assign, in line, grouped with the other ADDs that wait beside it. */
  assign(req: AssignRequest, deadline: number): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      const w: Waiting = { req, deadline, resolve, reject };
      if (this.forming) {
        this.forming.push(w);
        return;
      }
      const group = [w];
      this.forming = group;
      this.run('assign', Number.POSITIVE_INFINITY, () => {
        this.forming = undefined; // from here on, newcomers form the next group
        return this.commit(group);
      }).catch((e: unknown) => {
        // Not expected (each member's own errors are its answer), but no caller may wait forever.
        for (const g of group) g.reject(e);
      });
    });
  }

  /**
   * Group, then one alone (which may claim the next block and so make room), then group the rest
   * again, until everyone has an answer: each round answers at least one caller.
   */
  private async commit(group: Waiting[]): Promise<void> {
    let waiting = group;
    while (waiting.length > 0) {
      const now = Date.now();
      waiting = waiting.filter((w) => {
        if (now < w.deadline) return true;
        w.reject(this.late('assign'));
        return false;
      });
      if (waiting.length > 1) {
        const soonest = Math.min(...waiting.map((w) => w.deadline));
        const ips = await this.open(soonest)
          .assignGroup(waiting.map((w) => w.req))
          .catch(() => waiting.map(() => undefined));
        waiting = waiting.filter((w, i) => {
          const got = ips[i];
          if (got) {
            this.served('grouped');
            w.resolve(got);
          }
          return !got;
        });
      }
      const w = waiting.shift();
      if (w && Date.now() < w.deadline) {
        await this.open(w.deadline)
          .assign(w.req)
          .then((ips) => {
            this.served('alone');
            w.resolve(ips);
          }, w.reject);
      } else w?.reject(this.late('assign'));
    }
  }
}
