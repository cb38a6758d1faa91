// Bounded optimistic-concurrency retries with jittered backoff, shared by every CAS loop in ipam/.
import { IpamError } from './errors.js';

export const RETRY = Symbol('retry');
export type Retry = typeof RETRY;

export interface RetryPolicy {
  attempts: number;
  /** Upper bound of the random sleep between attempts, in ms; grows linearly with the attempt. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 200, backoffMs: 5 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function withRetries<T>(what: string, policy: RetryPolicy, fn: (attempt: number) => Promise<T | Retry>): Promise<T> {
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    const r = await fn(attempt);
    if (r !== RETRY) return r as T;
    if (policy.backoffMs > 0) await sleep(Math.random() * policy.backoffMs * Math.min(attempt + 1, 20));
  }
  throw new IpamError('Conflict', `${what}: gave up after ${policy.attempts} conflicting attempts`);
}
