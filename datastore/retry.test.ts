import { describe, expect, it } from 'vitest';
import { DatastoreError } from './errors.js';
import { untilDeadline } from './retry.js';

describe('untilDeadline', () => {
  it('retries a call that found the datastore unavailable until it answers', async () => {
    let calls = 0;
    const r = await untilDeadline(Date.now() + 5000, async () => {
      if (++calls < 3) throw new DatastoreError('Unavailable', 'no answer');
      return 'ok';
    });
    expect([r, calls]).toEqual(['ok', 3]);
  });

  it('gives up with the last error when the deadline leaves no room for another try', async () => {
    let calls = 0;
    const p = untilDeadline(Date.now() + 250, async () => {
      calls++;
      throw new DatastoreError('Unavailable', `no answer ${calls}`);
    });
    await expect(p).rejects.toThrow(/no answer [23]$/);
  });

  it('tells the caller each error it retries, so the last reason can be reported', async () => {
    const heard: string[] = [];
    let calls = 0;
    const r = await untilDeadline(
      Date.now() + 5000,
      async () => {
        if (++calls < 3) throw new DatastoreError('Unavailable', `no answer ${calls}`);
        return calls;
      },
      (e) => heard.push(e.message),
    );
    expect([r, heard]).toEqual([3, ['no answer 1', 'no answer 2']]);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    const p = untilDeadline(Date.now() + 5000, async () => {
      calls++;
      throw new DatastoreError('Conflict', 'changed');
    });
    await expect(p).rejects.toThrow('changed');
    expect(calls).toBe(1);
  });
});
