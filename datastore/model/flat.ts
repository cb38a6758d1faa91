// Tutorials print YAML with the lines under `metadata:` and `spec:` unindented, which parses as
// one flat mapping with null metadata/spec. Put the known metadata keys back under metadata and
// everything else under spec. Documents that are already nested pass through unchanged.

export type Doc = Record<string, unknown>;

export function isRecord(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ENVELOPE = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

export function unflatten(doc: Doc, metaKeys: readonly string[]): { metadata: Doc; spec: Doc } {
  const metadata: Doc = isRecord(doc.metadata) ? { ...doc.metadata } : {};
  const spec: Doc = isRecord(doc.spec) ? { ...doc.spec } : {};
  for (const [k, v] of Object.entries(doc)) {
    if (ENVELOPE.has(k)) continue;
    if (metaKeys.includes(k)) metadata[k] ??= v;
    else spec[k] ??= v;
  }
  return { metadata, spec };
}

/** True when the document has keys outside the envelope, i.e. it was pasted flat. */
export function isFlat(doc: Doc): boolean {
  return Object.keys(doc).some((k) => !ENVELOPE.has(k));
}
