// The shipped manifests against a real kube-apiserver (Node,RBAC authorization), applied as a user
// would with `kubectl apply --server-side`: every manifest is accepted, the CRDs become
// Established, and their schemas accept every example in manifests/examples/ (and the seed's
// Calico resources) and reject the ones in manifests/examples/invalid/ naming the bad field.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCustomResource } from '../../datastore/backends/kubernetes/crd-convert.js';
import { CRD_API_VERSION, CRD_KINDS } from '../../datastore/backends/kubernetes/crds.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { ResourceClient } from '../../datastore/client.js';
import { formatInvalid } from '../../datastore/invalid.js';
import { Syncer } from '../../datastore/syncer.js';
import { waitFor } from '../harness/daemon.js';
import { validateResource } from '../../datastore/model/index.js';
import { parseDocuments } from '../../ctl/documents.js';
import { ROOT } from '../harness/entry.js';
import { startKubeApiserver, type KubeApiserver } from '../harness/kube.js';

const MANIFESTS = join(ROOT, 'manifests');
const EXAMPLES = join(MANIFESTS, 'examples');
const INVALID = join(EXAMPLES, 'invalid');
// The seed's calicoctl documents as written there (flat, unindented YAML), kept as fixtures.
const SEED_FIXTURES = join(ROOT, 'test', 'fixtures', 'ctl');

type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string } };

// tortiectl's reader: it also takes the seed's unindented v1 documents.
const yamlDocs = (file: string): Doc[] => parseDocuments(readFileSync(file, 'utf8'), file) as Doc[];

const yamlFiles = (dir: string, prefix = ''): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f.startsWith(prefix))
    .map((f) => join(dir, f));

const CRD_KIND_NAMES = new Set(CRD_KINDS.map((k) => k.kind));

describe('manifests on a real kube-apiserver (kubectl apply --server-side)', () => {
  let kube: KubeApiserver;
  let store: KubernetesStore;
  const apply = (args: string[], input?: string) => kube.kubectl(['apply', '--server-side', ...args], input === undefined ? {} : { input });

  beforeAll(async () => {
    kube = await startKubeApiserver();
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig });
  }, 300_000);

  afterAll(async () => {
    await store?.close();
    await kube?.stop();
  }, 60_000);

  it('manifests/crds/ is accepted and every CRD becomes Established', async () => {
    await apply(['-f', join(MANIFESTS, 'crds')]);
    await kube.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    const crds = JSON.parse((await kube.kubectl(['get', 'crd', '-o', 'json'])).stdout) as { items: { spec: { names: { kind: string } }; status: { conditions: { type: string; status: string }[] } }[] };
    expect(crds.items.map((c) => c.spec.names.kind).sort()).toEqual([...CRD_KIND_NAMES].sort());
    for (const c of crds.items) expect(c.status.conditions.find((x) => x.type === 'Established')?.status, c.spec.names.kind).toBe('True');
  }, 120_000);

  it('a custom resource the schema lets through but the model rejects is skipped by readers and reported with its path', async () => {
    await apply(['-f', '-'], JSON.stringify({ apiVersion: CRD_API_VERSION, kind: 'IPPool', metadata: { name: 'kdd-good' }, spec: { cidr: '10.61.0.0/16' } }));
    await apply(['-f', '-'], JSON.stringify({ apiVersion: CRD_API_VERSION, kind: 'IPPool', metadata: { name: 'kdd-bad-cidr' }, spec: { cidr: 'not-a-cidr' } }));
    const l = await new ResourceClient(store).list('IPPool');
    expect(l.items.map((p) => p.metadata.name)).toEqual(['kdd-good']);
    expect(l.invalid.map(formatInvalid)).toEqual([expect.stringMatching(/^\/apis\/crd\.projectcalico\.org\/v1\/ippools\/kdd-bad-cidr: invalid IPPool \(skipped\): spec\.cidr: /)]);
    const seen: string[] = [];
    const bad: string[] = [];
    const s = new Syncer({ store, kinds: ['IPPool'], onEvents: (evs) => evs.forEach((e) => e.type === 'update' && seen.push(e.object.key.name)), onInvalid: (b) => bad.push(b.where) });
    s.start();
    try {
      await waitFor('in sync', async () => (s.status === 'in-sync' ? true : undefined), 30_000);
      expect(seen).toEqual(['kdd-good']);
      expect(bad).toEqual(['/apis/crd.projectcalico.org/v1/ippools/kdd-bad-cidr']);
    } finally {
      await s.stop();
    }
    await kube.kubectl(['delete', 'ippools.crd.projectcalico.org', 'kdd-good', 'kdd-bad-cidr']);
  }, 60_000);

  it.each(['tortie.yaml', 'tortie-etcd.yaml', 'tortie-rr.yaml', 'tortie-rr-kdd.yaml'])('%s is accepted, every object as written', async (file) => {
    const path = join(MANIFESTS, file);
    // The three installs share names (tortie-config, tortie-node): each is checked on its own.
    const { stdout } = await apply(['-f', path]);
    const docs = yamlDocs(path);
    expect(stdout.trim().split('\n')).toHaveLength(docs.length);
    for (const d of docs) {
      const ns = (d.metadata as { namespace?: string }).namespace;
      await kube.kubectl(['get', String(d.kind), String(d.metadata?.name), ...(ns ? ['-n', ns] : [])]);
    }
    // Not the CRDs tortie.yaml holds: deleting one deletes its resources, which the tests below write.
    for (const d of docs.filter((x) => x.kind !== 'CustomResourceDefinition')) {
      const ns = (d.metadata as { namespace?: string }).namespace;
      await kube.kubectl(['delete', String(d.kind), String(d.metadata?.name), ...(ns ? ['-n', ns] : []), '--wait=false']);
    }
  }, 120_000);

  const validDocs = [...yamlFiles(EXAMPLES), ...yamlFiles(SEED_FIXTURES, 'seed-')].flatMap((f) => yamlDocs(f).map((d) => [`${f.slice(ROOT.length + 1)} ${String(d.kind)}`, d] as const));

  it.each(validDocs)('%s: accepted by its CRD schema', async (_, doc) => {
    const v = validateResource(doc);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const r = v.resource;
    if (CRD_KIND_NAMES.has(r.kind)) {
      // The custom resource the Kubernetes store writes for it (spec as is, Calico metadata in an annotation).
      await apply(['-f', '-'], JSON.stringify(toCustomResource({ ...r, spec: r.spec })));
      const back = JSON.parse((await kube.kubectl(['get', `${r.kind.toLowerCase()}s.crd.projectcalico.org`, r.metadata.name, '-o', 'json'])).stdout) as { spec: unknown };
      expect(back.spec).toEqual(JSON.parse(JSON.stringify(r.spec)));
    } else {
      // A Calico Node is the Kubernetes Node (kubelet registers it); its Calico fields go onto it.
      expect(r.kind).toBe('Node');
      await apply(['-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: r.metadata.name } }));
      await new ResourceClient(store).apply(doc);
      expect((await new ResourceClient(store).get('Node', r.metadata.name)).spec).toMatchObject(r.spec as object);
    }
  }, 60_000);

  const invalidDocs = yamlFiles(INVALID).map((f) => {
    const field = /^# rejected-field: (\S+)$/m.exec(readFileSync(f, 'utf8'))?.[1];
    if (!field) throw new Error(`${f}: no '# rejected-field: <path>' line`);
    const [doc] = yamlDocs(f);
    return [f.slice(EXAMPLES.length + 1), doc, field] as const;
  });

  it.each(invalidDocs)('%s: rejected by its CRD schema and by the model, both naming the field', async (_, doc, field) => {
    const cr = { apiVersion: CRD_API_VERSION, kind: doc.kind, metadata: doc.metadata, spec: doc.spec };
    const err = await apply(['-f', '-'], JSON.stringify(cr)).then(
      () => undefined,
      (e: Error) => e.message,
    );
    // Schema validation ("spec.x: Invalid value …") or, for a wrong type, server-side apply's typed
    // patch (".spec.x: expected boolean, got …"): either way the field is named.
    expect(err).toMatch(new RegExp(`(^|[\\s.])${field.replace(/\./g, '\\.')}: (Invalid value|Unsupported value|expected \\w+, got)`, 'm'));
    const v = validateResource(doc);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.path)).toContain(field);
  }, 60_000);
});
