// calicoctl's result lines: "Successfully applied 2 'IPPool' resource(s)" for one kind,
// "Successfully applied 3 resource(s)" when a file mixes kinds.

export type Verb = 'created' | 'applied' | 'replaced' | 'deleted' | 'validated' | 'patched';

export function resultLine(verb: Verb, kinds: readonly string[]): string {
  const distinct = [...new Set(kinds)];
  if (distinct.length === 1) return `Successfully ${verb} ${kinds.length} '${distinct[0]}' resource(s)`;
  return `Successfully ${verb} ${kinds.length} resource(s)`;
}
