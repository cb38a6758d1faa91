// tortie entry: the CNI plugin (Calico's "calico"), run by a container runtime.
import { pluginMain } from './plugin.js';
import { runEntry } from './run.js';

void runEntry((stdin) => pluginMain(stdin));
