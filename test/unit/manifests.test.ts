// The shipped manifests, read as a user's kubectl and install-cni would: every document parses and
// names itself, the images are the ones `make images` tags (package.json's version), every
// ConfigMap key an env refers to exists, and each cni_network_config renders through install-cni's
// substitution to a conflist of tortie chained with portmap.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseSettings, placeholders, renderConflist } from '../../install/cni-config.js';
import { ROOT } from '../harness/entry.js';

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string }; data?: Record<string, string> };

const MANIFESTS = readdirSync(join(ROOT, 'manifests')).filter((f) => f.endsWith('.yaml'));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function docs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(join(ROOT, 'manifests', file), 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS() as Doc | null;
    })
    .filter((d): d is Doc => d !== null);
}

/** Every value under `key` anywhere in the document. */
function collect(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const n of node) collect(n, key, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      collect(v, key, out);
    }
  return out;
}

const configMap = (file: string): Record<string, string> => docs(file).find((d) => d.kind === 'ConfigMap' && d.metadata?.name === 'tortie-config')?.data ?? {};

describe('manifests/', () => {
  it.each(MANIFESTS)('%s: every document parses and has apiVersion, kind and a name', (file) => {
    const all = docs(file);
    expect(all.length).toBeGreaterThan(0);
    for (const d of all) {
      expect(d.apiVersion, `${file} ${d.kind}`).toBeTruthy();
      expect(d.kind).toBeTruthy();
      expect(d.metadata?.name, `${file} ${d.kind}`).toBeTruthy();
    }
  });

  it.each(MANIFESTS)('%s: images are the ones make images tags, never pulled', (file) => {
    const containers = collect(docs(file), 'containers').concat(collect(docs(file), 'initContainers')).flat() as { image: string; imagePullPolicy?: string }[];
    for (const c of containers) {
      expect(c.image).toMatch(new RegExp(`^localhost/tortie/(node|rr|controllers):${VERSION.replace(/\./g, '\\.')}$`));
      expect(c.imagePullPolicy).toBe('IfNotPresent');
    }
  });

  it.each(MANIFESTS)('%s: every configMapKeyRef names a key of tortie-config', (file) => {
    // tortie-rr.yaml uses the ConfigMap tortie-etcd.yaml makes.
    const data = configMap(file === 'tortie-rr.yaml' ? 'tortie-etcd.yaml' : file);
    for (const ref of collect(docs(file), 'configMapKeyRef') as { name: string; key: string }[]) {
      expect(ref.name).toBe('tortie-config');
      expect(Object.keys(data), `${file}: ${ref.key}`).toContain(ref.key);
    }
  });

  it.each(['tortie-etcd.yaml', 'tortie.yaml'])('%s: cni_network_config renders to tortie chained with portmap', (file) => {
    const template = configMap(file).cni_network_config;
    const parsed = parseSettings({}, template);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const s = parsed.settings;
    const r = renderConflist(template, placeholders({ CNI_MTU: '1440', KUBERNETES_NODE_NAME: 'n1', ETCD_ENDPOINTS: 'https://10.0.0.1:2379' }, s, { hostname: 'h', tlsInstalled: new Set(['etcd-ca']) }));
    if (!r.ok) throw new Error(r.error);
    expect(r.warnings).toEqual([]);
    const conf = JSON.parse(r.conflist) as { plugins: { type: string; mtu?: number; nodename?: string; ipam?: { type: string } }[] };
    expect(conf.plugins.map((p) => p.type)).toEqual(['tortie', 'portmap']);
    expect(conf.plugins[0]).toMatchObject({ mtu: 1440, nodename: 'n1', ipam: { type: 'tortie-ipam' } });
  });

  it('the systemd unit reads only variables its env file sets (plus systemd\'s own)', () => {
    const unit = readFileSync(join(ROOT, 'manifests/systemd/tortie.service'), 'utf8');
    const env = readFileSync(join(ROOT, 'manifests/systemd/tortie.env'), 'utf8');
    const set = new Set([...env.matchAll(/^([A-Z_0-9]+)=/gm)].map((m) => m[1]));
    const used = [...unit.matchAll(/\$\{([A-Z_0-9]+)\}/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(5);
    for (const v of used) expect(set, v).toContain(v);
  });
});
