// tortie-ipam entry: the CNI IPAM plugin (Calico's calico-ipam), run by a container runtime.
import { ipamMain } from './ipam-plugin.js';
import { runEntry } from './run.js';

void runEntry((stdin) => ipamMain(stdin));
