// The whole of both CNI plugins, agent-less path included: the asset the single executable runs a
// command through when no tortie-node answers (install/cni-plugins.ts). Errors come back as data,
// not as this bundle's own error classes, which the caller's instanceof would not know.
import { ipamMain } from '../cni/ipam-plugin.js';
import { pluginMain } from '../cni/plugin.js';
import { toCniError } from '../cni/run.js';

export type FullOutcome = { ok: true; out: Record<string, unknown> | undefined } | { ok: false; code: number; msg: string; details: string };

export async function command(plugin: 'tortie' | 'tortie-ipam', stdin: string): Promise<FullOutcome> {
  try {
    return { ok: true, out: await (plugin === 'tortie-ipam' ? ipamMain : pluginMain)(stdin) };
  } catch (e) {
    const err = toCniError(e);
    return { ok: false, code: err.code, msg: err.message, details: err.details };
  }
}
