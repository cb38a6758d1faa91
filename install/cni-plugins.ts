// The one executable behind both CNI plugins (build/tortie, a Node single executable application):
// install-cni copies it as tortie and tortie-ipam, and the name it runs by picks the plugin.
import { pluginFor } from './plugin-name.js';

// argv0 is the name the runtime ran us by (execPath resolves links). A SEA's main script is
// CommonJS in Node 20, hence no top-level await.
void (pluginFor(process.argv0 || process.execPath) === 'tortie-ipam' ? import('../cni/tortie-ipam.js') : import('../cni/tortie.js'));
