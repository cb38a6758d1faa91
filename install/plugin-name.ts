// Which CNI plugin the one executable is, from the name it was run by (as Calico's calico and
// calico-ipam are one binary).
import { basename } from 'node:path';

/** The plugin a file name stands for; the IPAM names are Calico's and ours. */
export function pluginFor(exe: string): 'tortie' | 'tortie-ipam' {
  const name = basename(exe);
  return name === 'tortie-ipam' || name === 'calico-ipam' ? 'tortie-ipam' : 'tortie';
}

/** The full plugin's name as an asset in the executable (images/bundle.ts, install/cni-plugins.ts). */
export const FULL_PLUGIN_ASSET = 'cni-full.cjs';
