// Retrying a datastore call that found the datastore unavailable (no answer within the call's own
// budget, a refused connection), until a deadline: the CNI plugins' and the agent's one back-off.
import { DatastoreError } from './errors.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn again after an Unavailable datastore error while the deadline (epoch ms) leaves room for
 * the back-off (100 ms, doubling to 1 s); any other error, or the last Unavailable one, is thrown.
 * `onRetry` hears each Unavailable error that is retried (a caller reports the last reason).
 */
export async function untilDeadline<T>(deadline: number, fn: () => Promise<T>, onRetry?: (e: DatastoreError) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const pause = Math.min(100 * 2 ** attempt, 1000);
      if (!(e instanceof DatastoreError && e.code === 'Unavailable') || Date.now() + pause >= deadline) throw e;
      onRetry?.(e);
      await sleep(pause);
    }
  }
}
