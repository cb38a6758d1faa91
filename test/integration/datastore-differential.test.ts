// Differential test at the Store level: random operation sequences run against the etcd store over a
// real etcd and against (a) the in-memory store (Calico's etcd layout over the memory KV) and (b) the
// Kubernetes store over a real kube-apiserver with Calico's CRDs. Each pair must give the same
// objects, the same errors, the same revision pattern and the same watch events. Revisions are
// opaque, so each side's are compared by their pattern: the n-th distinct revision a side hands out
// is "r<n>". This is what lets other components trust the in-memory store in their unit tests, and
// every component trust that the two datastores behave alike.
//
// Where they do not — on Kubernetes some kinds are derived from Kubernetes' own objects and some
// writes are refused — the differences are listed in KUBERNETES_DIFFERENCES below and asserted, not
// skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { MemoryBackend } from '../../datastore/backends/memory.js';
import { StoreWatchRecorder } from '../../datastore/store-conformance.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { DatastoreError } from '../../datastore/store.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';
import type { KubeApiserver } from '../harness/kube.js';
import type { ObjectKey, Store, StoreEvent, StoredObject, StoredValue } from '../../datastore/store.js';

type Rev = 'current' | 'stale';
type Obj = 'poolA' | 'poolB' | 'policy' | 'handle';
type Op =
  | { op: 'create'; o: Obj; v: number }
  | { op: 'update'; o: Obj; v: number; rev: Rev }
  | { op: 'delete'; o: Obj; rev: Rev | 'none' }
  | { op: 'get'; o: Obj }
  | { op: 'list'; o: Obj };

const objArb = fc.constantFrom<Obj>('poolA', 'poolB', 'policy', 'handle');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), o: objArb, v: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('update' as const), o: objArb, v: fc.integer({ min: 1, max: 3 }), rev: fc.constantFrom<Rev>('current', 'current', 'stale') }),
  fc.record({ op: fc.constant('delete' as const), o: objArb, rev: fc.constantFrom<Rev | 'none'>('current', 'stale', 'none') }),
  fc.record({ op: fc.constant('get' as const), o: objArb }),
  fc.record({ op: fc.constant('list' as const), o: objArb }),
);

const API = 'projectcalico.org/v3';
/** Namespaced objects go here (on Kubernetes it must exist, as on any cluster). */
const NAMESPACE = 'diff';

function value(o: Obj, stem: string, v: number): StoredValue {
  switch (o) {
    case 'poolA':
    case 'poolB':
      return { apiVersion: API, kind: 'IPPool', metadata: { name: `${stem}-${o.toLowerCase()}`, labels: { v: String(v) } }, spec: { cidr: `10.${v}.0.0/16` } };
    case 'policy':
      return { apiVersion: API, kind: 'NetworkPolicy', metadata: { name: `${stem}-p`, namespace: NAMESPACE }, spec: { order: v, selector: 'all()' } };
    case 'handle':
      return { apiVersion: API, kind: 'IPAMHandle', metadata: { name: `${stem}-h` }, spec: { handleID: `${stem}-h`, block: { '10.0.0.0/26': v }, deleted: false } };
  }
}

const keyOf = (o: Obj, stem: string): ObjectKey => {
  const v = value(o, stem, 1);
  return { kind: v.kind, name: v.metadata.name, ...(v.metadata.namespace ? { namespace: v.metadata.namespace } : {}) };
};

/** One store under test, and the names it has given its revisions so far. */
class Side {
  private readonly names = new Map<string, string>();
  /** A revision this side handed out before the run: never an object's current one. */
  stale = '';
  private writes = 0;
  constructor(
    readonly s: Store,
    readonly stem: string,
    /** Every update changes the object (a label counts the writes): see KUBERNETES_DIFFERENCES on no-op updates. */
    readonly changingUpdates = false,
  ) {}

  rev(r: string): string {
    if (!this.names.has(r)) this.names.set(r, `r${this.names.size}`);
    return this.names.get(r) ?? '';
  }

  obj(o: StoredObject | undefined): unknown {
    return o && { key: o.key, value: o.value, rev: this.rev(o.revision) };
  }

  event(e: StoreEvent): unknown {
    if (e.type === 'deleted') return { type: e.type, key: e.key, previous: this.obj(e.previous) };
    return { type: e.type, object: this.obj(e.object), previous: this.obj(e.previous) };
  }

  async apply(o: Op): Promise<unknown> {
    const key = keyOf(o.o, this.stem);
    const revFor = async (r: Rev): Promise<string> => (r === 'stale' ? this.stale : ((await this.s.get(key))?.revision ?? this.stale));
    try {
      switch (o.op) {
        case 'create':
          return this.obj(await this.s.create(value(o.o, this.stem, o.v)));
        case 'update': {
          const v = value(o.o, this.stem, o.v);
          if (this.changingUpdates) {
            // An IPAM kind keeps no labels on etcd (libcalico-go's record of it has none): the count goes in its spec.
            const spec = v.spec as { block?: Record<string, number> };
            if (v.kind === 'IPAMHandle') v.spec = { ...spec, block: { ...spec.block, '10.9.0.0/26': ++this.writes } };
            else v.metadata.labels = { ...v.metadata.labels, write: String(++this.writes) };
          }
          return this.obj(await this.s.update(v, await revFor(o.rev)));
        }
        case 'delete':
          return this.obj(await this.s.delete(key, o.rev === 'none' ? undefined : await revFor(o.rev)));
        case 'get':
          return this.obj(await this.s.get(key)) ?? null;
        case 'list': {
          const l = await this.s.list(key.kind, key.namespace);
          return l.items.filter((x) => x.key.name.startsWith(this.stem)).map((x) => this.obj(x));
        }
      }
    } catch (err) {
      if (err instanceof DatastoreError) return { error: err.code };
      throw err;
    }
  }
}

const KINDS: Array<[string, string | undefined]> = [
  ['IPPool', undefined],
  ['NetworkPolicy', NAMESPACE],
  ['IPAMHandle', undefined],
];

/**
 * Runs random operation sequences on `reference` and on a fresh or shared `other` store, and
 * compares results and watch events (only the objects of the run, named by its stem).
 */
async function compareStores(
  reference: () => Store,
  other: () => Promise<{ store: Store; done(): Promise<void> }>,
  opts: { numRuns: number; label: string; changingUpdates?: boolean },
): Promise<void> {
  const { numRuns, label } = opts;
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
      const stem = `${label}${++run}-${process.pid}`;
      const o = await other();
      // Both stores start with one unrelated write, so a "stale" revision exists on each.
      const sides = [new Side(o.store, stem, opts.changingUpdates), new Side(reference(), stem, opts.changingUpdates)];
      for (const side of sides) side.stale = (await side.s.create({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: `${stem}-seed` }, spec: {} })).revision;
      const recs: StoreWatchRecorder[][] = [];
      const watches = [];
      for (const side of sides) {
        const r: StoreWatchRecorder[] = [];
        for (const [kind, ns] of KINDS) {
          const rec = new StoreWatchRecorder();
          const l = await side.s.list(kind, ns);
          watches.push(side.s.watch(kind, l.revision, rec.handlers, ns));
          r.push(rec);
        }
        recs.push(r);
      }
      try {
        for (const op of ops) {
          const [m, e] = await Promise.all(sides.map((s) => s.apply(op)));
          expect(m, `op ${JSON.stringify(op)}`).toEqual(e);
        }
        await new Promise((r) => setTimeout(r, 0));
        const mine = (e: StoreEvent): boolean => (e.type === 'deleted' ? e.key : e.object.key).name.startsWith(stem);
        for (let k = 0; k < KINDS.length; k++) {
          const [or, er] = [recs[0][k], recs[1][k]];
          // Both watches deliver asynchronously: wait until each has as many events as the other.
          const want = Math.max(or.events.filter(mine).length, er.events.filter(mine).length);
          await or.until(() => or.events.filter(mine).length >= want, `${label} watch of ${KINDS[k][0]} to deliver ${want} events`);
          await er.until(() => er.events.filter(mine).length >= want, `etcd watch of ${KINDS[k][0]} to deliver ${want} events`);
          expect(or.events.filter(mine).map((e) => sides[0].event(e))).toEqual(er.events.filter(mine).map((e) => sides[1].event(e)));
          expect([or.errors, er.errors]).toEqual([[], []]);
        }
      } finally {
        await Promise.all(watches.map((w) => w.close()));
        await o.done();
      }
    }),
    { numRuns, ...(process.env.TORTIE_PROPERTY_SEED ? { seed: Number(process.env.TORTIE_PROPERTY_SEED), path: process.env.TORTIE_PROPERTY_PATH } : {}) },
  );
}

describe('differential, Store level: each store behaves like the etcd store', () => {
  let etcd: EtcdServer;
  let real: EtcdStore;
  let kube: KubeApiserver | undefined;
  let kstore: KubernetesStore | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
    real = new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] }));
  });
  afterAll(async () => {
    await real?.close();
    await kstore?.close();
    await kube?.stop();
    await etcd?.stop();
  });

  it('in-memory: same objects, errors, revision patterns and watch events for random operation sequences', async () => {
    await compareStores(
      () => real,
      async () => {
        const mem = new EtcdStore(new MemoryBackend());
        return { store: mem, done: () => mem.close() };
      },
      { numRuns: 60, label: 'm' },
    );
  });

  describe('kubernetes (real kube-apiserver, Calico CRDs)', () => {
    beforeAll(async () => {
      kube = await startKubeWithCalicoCrds();
      await kube.kubectl(['create', 'namespace', NAMESPACE]);
      kstore = new KubernetesStore({ kubeconfig: kube.kubeconfig });
    }, 180_000);

    it('same objects, errors, revision patterns and watch events for random operation sequences on the CRD kinds', async () => {
      const k = kstore as KubernetesStore;
      await compareStores(() => real, async () => ({ store: k, done: async () => undefined }), { numRuns: 20, label: 'k', changingUpdates: true });
    }, 600_000);

    it('differs from etcd exactly where KUBERNETES_DIFFERENCES says', async () => {
      const k = kstore as KubernetesStore;
      const kk = kube as KubeApiserver;
      await kk.kubectl(['apply', '-f', '-'], { input: JSON.stringify(DIFFERENCE_FIXTURE) });
      for (const d of KUBERNETES_DIFFERENCES) {
        const [onKube, onEtcd] = [await outcome(() => d.run(k)), await outcome(() => d.run(real))];
        expect({ what: d.what, kubernetes: onKube, etcd: onEtcd }).toEqual({ what: d.what, kubernetes: d.kubernetes, etcd: d.etcd });
      }
    }, 120_000);
  });
});

/** What an operation gave: 'ok', its result's summary, or the error code. */
async function outcome(fn: () => Promise<string>): Promise<string> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DatastoreError) return `error ${err.code}`;
    throw err;
  }
}

/** Kubernetes objects the derived kinds come from: a Namespace, a ServiceAccount, a NetworkPolicy, a Node and a Pod on it. */
const DIFFERENCE_FIXTURE = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'diffns', labels: { team: 'a' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'diffns' } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'diffns' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'diff-node' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'diffns' }, spec: { nodeName: 'diff-node', containers: [{ name: 'c', image: 'pause' }] } },
  ],
};

const profile = (name: string): StoredValue => ({ apiVersion: API, kind: 'Profile', metadata: { name }, spec: {} });
const node = (name: string): StoredValue => ({ apiVersion: API, kind: 'Node', metadata: { name }, spec: {} });
const wep = (name: string, ns: string): StoredValue => ({ apiVersion: API, kind: 'WorkloadEndpoint', metadata: { name, namespace: ns }, spec: { node: 'diff-node', pod: 'web', endpoint: 'eth0', ipNetworks: ['10.9.9.9/32'] } });
const names = async (s: Store, kind: string, pick: (n: string) => boolean, ns?: string): Promise<string> =>
  (await s.list(kind, ns)).items.map((o) => o.key.name).filter(pick).join(',') || 'none';

/**
 * Every way the Kubernetes datastore differs from etcd, as Calico's KDD does: the kinds derived
 * from Kubernetes objects (kns./ksa. Profiles, knp.default. policies, Node ↔ Kubernetes Node,
 * WorkloadEndpoint ↔ Pod) exist without being written, and writes Calico refuses there are refused.
 */
const KUBERNETES_DIFFERENCES: { what: string; run(s: Store): Promise<string>; kubernetes: string; etcd: string }[] = [
  {
    what: 'a Namespace is the Profile kns.<namespace>: allow-all rules, its labels as pcns. profile labels',
    run: async (s) => JSON.stringify((await s.get({ kind: 'Profile', name: 'kns.diffns' }))?.value.spec ?? 'none'),
    kubernetes: JSON.stringify({
      ingress: [{ action: 'Allow' }],
      egress: [{ action: 'Allow' }],
      labelsToApply: { 'pcns.projectcalico.org/name': 'diffns', 'pcns.kubernetes.io/metadata.name': 'diffns', 'pcns.team': 'a' },
    }),
    etcd: '"none"',
  },
  { what: 'a ServiceAccount is the Profile ksa.<namespace>.<name>', run: (s) => names(s, 'Profile', (n) => n === 'ksa.diffns.sa'), kubernetes: 'ksa.diffns.sa', etcd: 'none' },
  { what: 'writing a kns. Profile is refused on Kubernetes (change the Namespace instead)', run: async (s) => (await s.create(profile('kns.written')), 'ok'), kubernetes: 'error Invalid', etcd: 'ok' },
  { what: 'writing any Profile is refused on Kubernetes', run: async (s) => (await s.create(profile('plain-profile')), 'ok'), kubernetes: 'error Invalid', etcd: 'ok' },
  { what: 'a Kubernetes NetworkPolicy is the Calico policy knp.default.<name>', run: (s) => names(s, 'NetworkPolicy', (n) => n.startsWith('knp.default.'), 'diffns'), kubernetes: 'knp.default.deny', etcd: 'none' },
  {
    what: 'writing a knp.default. policy is refused on Kubernetes',
    run: async (s) => (await s.create({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name: 'knp.default.mine', namespace: 'diffns' }, spec: { selector: 'all()' } }), 'ok'),
    kubernetes: 'error Invalid',
    etcd: 'ok',
  },
  { what: 'a Kubernetes Node is the Calico Node', run: (s) => names(s, 'Node', (n) => n === 'diff-node'), kubernetes: 'diff-node', etcd: 'none' },
  { what: 'a Calico Node cannot be created on Kubernetes (kubelet registers it)', run: async (s) => (await s.create(node('new-node')), 'ok'), kubernetes: 'error Invalid', etcd: 'ok' },
  { what: 'a scheduled Pod is a WorkloadEndpoint <node>-k8s-<pod>-eth0', run: (s) => names(s, 'WorkloadEndpoint', () => true, 'diffns'), kubernetes: 'diff--node-k8s-web-eth0', etcd: 'none' },
  {
    what: 'a WorkloadEndpoint without its Pod cannot be written on Kubernetes (create the Pod first)',
    run: async (s) => (await s.create(wep('diff--node-k8s-nopod-eth0', 'diffns')), 'ok'),
    kubernetes: 'error NotFound',
    etcd: 'ok',
  },
  {
    what: 'an update that changes nothing keeps the revision on Kubernetes (the apiserver skips the write and sends no watch event); etcd writes a new one',
    run: async (s) => {
      const pool: StoredValue = { apiVersion: API, kind: 'IPPool', metadata: { name: 'noop-pool' }, spec: { cidr: '10.77.0.0/16' } };
      const created = await s.create(pool);
      const updated = await s.update(pool, created.revision);
      await s.delete({ kind: 'IPPool', name: 'noop-pool' }, updated.revision);
      return updated.revision === created.revision ? 'same revision' : 'new revision';
    },
    kubernetes: 'same revision',
    etcd: 'new revision',
  },
  {
    what: "the same on both: an endpoint's addresses round-trip (on Kubernetes through the Pod's cni.projectcalico.org/podIPs annotation)",
    run: async (s) => {
      const key = { kind: 'WorkloadEndpoint', name: 'diff--node-k8s-web-eth0', namespace: 'diffns' };
      const cur = await s.get(key);
      if (cur) await s.update(wep(key.name, key.namespace), cur.revision);
      else await s.create(wep(key.name, key.namespace));
      return JSON.stringify((await s.get(key))?.value.spec && ((await s.get(key))?.value.spec as { ipNetworks?: unknown }).ipNetworks);
    },
    kubernetes: '["10.9.9.9/32"]',
    etcd: '["10.9.9.9/32"]',
  },
];
