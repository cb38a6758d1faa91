// Calico's CustomResourceDefinitions (crd.projectcalico.org/v1, Calico's names, plurals and scopes)
// generated from the resource model's kind registry, and rendered as the files under
// manifests/crds/. Node, WorkloadEndpoint and Profile have none: on Kubernetes they are derived
// from Nodes, Pods, Namespaces and ServiceAccounts. Pure.
import { stringify } from 'yaml';
import { ALL_KINDS, type KindDef } from '../../model/kinds.js';
import { toStructural, type JSONSchemaProps } from './crd-schema.js';

export const CRD_GROUP = 'crd.projectcalico.org';
export const CRD_VERSION = 'v1';
export const CRD_API_VERSION = `${CRD_GROUP}/${CRD_VERSION}`;

/** Kinds the Kubernetes datastore keeps as objects of another API, never as CRDs. */
export const DERIVED_KINDS: ReadonlySet<string> = new Set(['Node', 'WorkloadEndpoint', 'Profile']);

/** The model's kinds that are CRDs on Kubernetes. */
export const CRD_KINDS: readonly KindDef[] = ALL_KINDS.filter((k) => !DERIVED_KINDS.has(k.kind));

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string };
    scope: 'Namespaced' | 'Cluster';
    versions: { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: JSONSchemaProps } }[];
  };
}

/**
 * Spec fields the apiserver stores without validating them, by kind: an IPAM block's per-address
 * collections. The apiserver builds a validator for every element of every array and map it
 * checks, on every write; with these fields typed, that was about a third of its CPU per pod
 * start (each ADD updates a block). Only Tortie's allocator writes them, and their readers check
 * them as on the etcd datastore, where no schema stands in front of a block: the allocator names
 * the field of a block that does not parse, tortiectl and the syncer report it as invalid. The
 * block's other fields stay typed and the collections stay required.
 */
export const APISERVER_UNCHECKED: Readonly<Record<string, readonly string[]>> = {
  IPAMBlock: ['allocations', 'unallocated', 'attributes', 'sequenceNumberForAllocation'],
};

/** The spec schema with `fields` taken out of the apiserver's checks (kept, not pruned, not validated). */
function uncheck(spec: JSONSchemaProps, fields: readonly string[]): JSONSchemaProps {
  if (!fields.length) return spec;
  const properties = Object.fromEntries(Object.entries(spec.properties ?? {}).filter(([f]) => !fields.includes(f)));
  return {
    ...spec,
    description: `${fields.join(', ')}: stored as written and checked by Tortie when read, not by the apiserver on every write (per-element validation was about a third of its CPU per pod start).`,
    properties,
    'x-kubernetes-preserve-unknown-fields': true,
  };
}

export function crdFor(k: KindDef): CustomResourceDefinition {
  const spec = uncheck(toStructural(k.specSchema), APISERVER_UNCHECKED[k.kind] ?? []);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${CRD_GROUP}` },
    spec: {
      group: CRD_GROUP,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase() },
      scope: k.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `Calico ${k.kind} (projectcalico.org/v3 spec; Calico metadata in the projectcalico.org/metadata annotation).`,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: spec,
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}

const HEADER = '# Generated from the resource model (datastore/model/kinds.ts) by `make crds`; do not edit.\n';

/** File name → YAML text, as committed under manifests/crds/ (Calico's file names). */
export function renderCrdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const k of CRD_KINDS) files.set(`${CRD_GROUP}_${k.plural}.yaml`, HEADER + stringify(crdFor(k), { lineWidth: 0, aliasDuplicateObjects: false }));
  return files;
}

const BEGIN = '# ---- BEGIN CRDs: generated from the resource model by `make crds` (as manifests/crds/); do not edit ----';
const END = '# ---- END CRDs ----';

/**
 * `manifest` (manifests/tortie.yaml, the default install) with its CRD section replaced by the CRDs
 * the model generates, one document each — the same text as manifests/crds/. Throws when the
 * manifest has no section markers (they say where the CRDs go).
 */
export function withCrdSection(manifest: string): string {
  const b = manifest.indexOf(BEGIN);
  const e = manifest.indexOf(END);
  if (b < 0 || e < b) throw new Error(`the manifest has no CRD section (a "${BEGIN}" line, then "${END}")`);
  const docs = [...renderCrdFiles().values()].map((t) => `---\n${t.slice(HEADER.length)}`).join('');
  return `${manifest.slice(0, b)}${BEGIN}\n${docs}${manifest.slice(e)}`;
}
