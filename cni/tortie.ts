// tortie entry: the CNI plugin (Calico's "calico"), run by a container runtime.
import { pluginMain } from './plugin.js';
import { runPlugin } from './run.js';

let version = '1.0.0';
void runPlugin(
  (stdin) => {
    try {
      version = (JSON.parse(stdin) as { cniVersion?: string }).cniVersion ?? version;
    } catch {
      /* reported by the parser */
    }
    return pluginMain(stdin);
  },
  () => version,
);
