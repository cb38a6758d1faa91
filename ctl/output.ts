// Aligned text tables in calicoctl's style (upper-case headers, columns padded with 3 spaces).
// Shared by every command that prints a table: get, node status, ipam show, bgp peers.

export type Cell = string | number | boolean | undefined | null;

const GAP = '   ';

function text(c: Cell): string {
  if (c === undefined || c === null) return '';
  return String(c);
}

/** Renders rows under headers; trailing spaces are trimmed from every line. Ends with a newline. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => text(r[i])))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => [...r[i]].length)));
  return cells.map((r) => r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(GAP).trimEnd()).join('\n') + '\n';
}

/** "key=value,key2=value2" as calicoctl prints label maps; empty → "". */
export function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
