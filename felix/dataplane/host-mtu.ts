// The thin shell of felix/mtu.ts: the host's links as `ip -j link` lists them, and the MTU file
// the CNI plugin reads (written whole, then renamed, so a plugin never reads half a number).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HostLink } from '../mtu.js';
import { tool } from './exec.js';

export async function listHostLinks(): Promise<HostLink[]> {
  const links = JSON.parse((await tool('ip', ['-j', 'link', 'show'])) || '[]') as { ifname?: string; mtu?: number }[];
  return links.filter((l): l is HostLink & { ifname: string } => typeof l.ifname === 'string' && typeof l.mtu === 'number').map((l) => ({ name: l.ifname, mtu: l.mtu }));
}

export function writeMtuFile(path: string, mtu: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, String(mtu), { mode: 0o644 });
  renameSync(tmp, path);
}
