// CLI: npx tsx test/vm/run.ts -- COMMAND...   runs COMMAND in the qemu VM (repo shared at the same
// path, cwd the repo) and exits with its exit code.
import { fileURLToPath } from 'node:url';
import { runInVm } from './vm.js';

const repo = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const i = process.argv.indexOf('--');
const cmd = (i >= 0 ? process.argv.slice(i + 1) : process.argv.slice(2)).join(' ');
if (!cmd) {
  process.stderr.write('usage: run.ts -- COMMAND...\n');
  process.exit(2);
}
runInVm({ command: cmd, cwd: repo, shareRw: repo, onOutput: (s) => process.stdout.write(s) }).then(
  (r) => process.exit(r.exitCode),
  (e: unknown) => {
    process.stderr.write(`vm: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
