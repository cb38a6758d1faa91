// The one executable behind both CNI plugins (build/tortie, a Node single executable application):
// install-cni copies it as tortie and tortie-ipam, and the name it runs by picks the plugin.
// Its main script holds the path every command takes with tortie-node running (the CNI socket) and
// no datastore client: those are megabytes that V8 would parse on every start (measured: 166 ms of
// CPU per start with them, 57 ms without). A command that must reach the datastore itself runs
// again through the full plugin, kept in the executable as an asset (images/bundle.ts).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { compileFunction } from 'node:vm';
import { CniError } from '../cni/errors.js';
import { ipamMain } from '../cni/ipam-plugin.js';
import { DirectPathElsewhere, directPathIsElsewhere } from '../cni/open-store.js';
import { pluginMain } from '../cni/plugin.js';
import { runEntry } from '../cni/run.js';
import type { FullOutcome } from './cni-full.js';
import { FULL_PLUGIN_ASSET, pluginFor } from './plugin-name.js';

type FullPlugin = { command: (plugin: 'tortie' | 'tortie-ipam', stdin: string) => Promise<FullOutcome> };

/** Evaluates the full plugin's CommonJS bundle from the asset; it needs only Node's own modules. */
function loadFull(): FullPlugin {
  const mod = { exports: {} as FullPlugin };
  const wrapper = compileFunction(getAsset(FULL_PLUGIN_ASSET, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname'], { filename: FULL_PLUGIN_ASSET });
  wrapper(mod.exports, createRequire(process.execPath), mod, process.execPath, dirname(process.execPath));
  return mod.exports;
}

// argv0 is the name the runtime ran us by (execPath resolves links).
const plugin = pluginFor(process.argv0 || process.execPath);
if (isSea()) directPathIsElsewhere();
void runEntry(async (stdin) => {
  try {
    return await (plugin === 'tortie-ipam' ? ipamMain : pluginMain)(stdin);
  } catch (e) {
    if (!(e instanceof DirectPathElsewhere)) throw e;
    const r = await loadFull().command(plugin, stdin);
    if (!r.ok) throw new CniError(r.code, r.msg, r.details);
    return r.out;
  }
});
