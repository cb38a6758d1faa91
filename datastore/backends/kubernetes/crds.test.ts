import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toStructural, type JSONSchemaProps } from './crd-schema.js';
import { APISERVER_UNCHECKED, CRD_KINDS, crdFor, renderCrdFiles, withCrdSection } from './crds.js';

const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'manifests', 'crds');

/** Kubernetes' structural rule: every node has a type, unless it is int-or-string or "any". */
function untypedPaths(s: JSONSchemaProps, path = ''): string[] {
  const here = s.type || s['x-kubernetes-int-or-string'] || s['x-kubernetes-preserve-unknown-fields'] ? [] : [path || '<root>'];
  const props = Object.entries(s.properties ?? {}).flatMap(([k, v]) => untypedPaths(v, `${path}.${k}`));
  const items = s.items ? untypedPaths(s.items, `${path}[]`) : [];
  const extra = s.additionalProperties ? untypedPaths(s.additionalProperties, `${path}{}`) : [];
  return [...here, ...props, ...items, ...extra];
}

describe('Calico CRDs generated from the resource model', () => {
  it('the committed manifests/crds/ files are exactly what the model generates (run `make crds` after changing the model)', () => {
    const files = renderCrdFiles();
    const committed = readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'));
    expect(committed.sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(CRD_DIR, name), 'utf8'), name).toBe(text);
  });

  it('manifests/tortie.yaml, the default install, holds the same CRDs (run `make crds` after changing the model)', () => {
    const install = readFileSync(join(CRD_DIR, '..', 'tortie.yaml'), 'utf8');
    expect(install).toBe(withCrdSection(install));
    expect(install.match(/^kind: CustomResourceDefinition$/gm)).toHaveLength(CRD_KINDS.length);
    expect(() => withCrdSection('kind: ConfigMap\n')).toThrow('no CRD section');
  });

  it("use Calico's group, version, plurals and scopes, IPAM kinds included", () => {
    const byPlural = new Map(CRD_KINDS.map((k) => [k.plural, crdFor(k)]));
    for (const p of ['ippools', 'bgppeers', 'bgpconfigurations', 'felixconfigurations', 'globalnetworkpolicies', 'hostendpoints', 'ipamblocks', 'blockaffinities', 'ipamhandles', 'ipamconfigs']) {
      expect(byPlural.get(p)?.spec.scope, p).toBe('Cluster');
      expect(byPlural.get(p)?.metadata.name).toBe(`${p}.crd.projectcalico.org`);
    }
    expect(byPlural.get('networkpolicies')?.spec.scope).toBe('Namespaced');
    expect(byPlural.has('nodes') || byPlural.has('workloadendpoints') || byPlural.has('profiles')).toBe(false);
    expect(byPlural.get('ipamblocks')?.spec.names).toEqual({ kind: 'IPAMBlock', listKind: 'IPAMBlockList', plural: 'ipamblocks', singular: 'ipamblock' });
  });

  it('every schema is structural: each node typed, int-or-string, or explicitly any', () => {
    for (const k of CRD_KINDS) expect(untypedPaths(crdFor(k).spec.versions[0].schema.openAPIV3Schema), k.kind).toEqual([]);
  });

  it("leaves only an IPAM block's per-address collections to Tortie's checks: still required, kept as written, every other field typed", () => {
    const spec = (kind: string): JSONSchemaProps => {
      const k = CRD_KINDS.find((x) => x.kind === kind);
      if (!k) throw new Error(kind);
      return crdFor(k).spec.versions[0].schema.openAPIV3Schema.properties?.spec ?? {};
    };
    const block = spec('IPAMBlock');
    expect(Object.keys(block.properties ?? {}).sort()).toEqual(['affinity', 'affinityClaimTime', 'cidr', 'deleted', 'sequenceNumber', 'strictAffinity']);
    expect(block.required).toEqual(['cidr', 'allocations', 'unallocated']);
    expect(block['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(block.description).toMatch(/^allocations, unallocated, attributes, sequenceNumberForAllocation: stored as written/);
    expect(Object.keys(APISERVER_UNCHECKED)).toEqual(['IPAMBlock']);
    for (const k of CRD_KINDS.filter((x) => x.kind !== 'IPAMBlock')) expect(spec(k.kind).description, k.kind).toBeUndefined();
  });

  it('maps zod shapes onto OpenAPI: bounds, enums, optional vs required, records, int-or-string, no defaults', () => {
    const s = toStructural(
      z
        .object({
          port: z.number().int().min(1).max(65535),
          proto: z.enum(['TCP', 'UDP']).optional(),
          target: z.union([z.number().int(), z.string()]),
          tags: z.record(z.string()).default({}),
          mode: z.string().transform((v) => v.toLowerCase()),
        })
        .strict(),
    );
    expect(s).toEqual({
      type: 'object',
      required: ['port', 'target', 'mode'],
      properties: {
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        proto: { type: 'string', enum: ['TCP', 'UDP'] },
        target: { 'x-kubernetes-int-or-string': true },
        tags: { type: 'object', additionalProperties: { type: 'string' } },
        mode: { type: 'string' },
      },
    });
  });
});
