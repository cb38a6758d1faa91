// tortie-ipam entry: the CNI IPAM plugin (Calico's calico-ipam), run by a container runtime.
import { ipamMain } from './ipam-plugin.js';
import { runPlugin } from './run.js';

let version = '1.0.0';
void runPlugin(
  (stdin) => {
    try {
      version = (JSON.parse(stdin) as { cniVersion?: string }).cniVersion ?? version;
    } catch {
      /* reported by the parser */
    }
    return ipamMain(stdin);
  },
  () => version,
);
