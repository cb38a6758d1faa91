import { describe, expect, it } from 'vitest';
import { MemoryBackend } from './memory.js';
import { describeBackendConformance, evKey, WatchRecorder } from './conformance.js';

describeBackendConformance('memory', async () => {
  const backend = new MemoryBackend();
  return {
    backend,
    // Another client of the same in-process store is the same object; close() on it must not be called.
    second: async () => backend,
    compact: async (rev) => backend.compact(rev),
    cleanup: () => backend.close(),
  };
});

describe('MemoryBackend specifics', () => {
  it('starts at revision 1; the first write is revision 2, like etcd', async () => {
    const b = new MemoryBackend();
    expect((await b.list('/')).revision).toBe(1);
    expect((await b.create('/a', 'x')).modRevision).toBe(2);
  });

  it('a history window compacts old revisions automatically', async () => {
    const b = new MemoryBackend({ historyWindow: 3 });
    const first = await b.create('/k', '0');
    for (let i = 1; i <= 5; i++) await b.update('/k', String(i), b.currentRevision);
    expect(b.compactedRevision).toBe(b.currentRevision - 2);
    const rec = new WatchRecorder();
    b.watch('/', first.modRevision, rec.handlers);
    await rec.until(() => rec.errors.length === 1, 'Compacted');
    expect(rec.errors[0]?.code).toBe('Compacted');
    const ok = new WatchRecorder();
    const w = b.watch('/', b.compactedRevision, ok.handlers);
    await ok.until(() => ok.events.length === 3, 'replay inside the window');
    expect(ok.events.map(evKey)).toEqual(['put /k=3', 'put /k=4', 'put /k=5']);
    await w.close();
  });

  it('a simulated outage fails calls and ends watches with Unavailable; data survives', async () => {
    const b = new MemoryBackend({ description: 'memory:test' });
    await b.create('/a', '1');
    const rec = new WatchRecorder();
    b.watch('/', 0, rec.handlers);
    b.simulateOutage();
    await rec.until(() => rec.errors.length === 1, 'Unavailable');
    expect(rec.errors[0]?.code).toBe('Unavailable');
    await expect(b.get('/a')).rejects.toMatchObject({ code: 'Unavailable' });
    const rev = b.forcePut('/b', '2');
    b.endOutage();
    expect((await b.get('/b'))?.modRevision).toBe(rev);
    expect((await b.list('/')).items.map((kv) => kv.key)).toEqual(['/a', '/b']);
  });

  it('compacting past the current revision is refused', () => {
    const b = new MemoryBackend();
    expect(() => b.compact(5)).toThrow(/store is at 1/);
    expect(() => new MemoryBackend({ historyWindow: 0 })).toThrow(/historyWindow/);
  });

  it('values handed out are copies: callers cannot corrupt the store', async () => {
    const b = new MemoryBackend();
    const kv = await b.create('/a', '1');
    kv.value = 'mutated';
    const got = await b.get('/a');
    if (got) got.modRevision = 99;
    expect(await b.get('/a')).toEqual({ key: '/a', value: '1', modRevision: 2, createRevision: 2 });
  });
});
