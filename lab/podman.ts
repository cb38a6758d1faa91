// `podman run` flags these build machines need: runc (crun refuses their hybrid cgroup setup) and
// resource limits no higher than this process has (the sandbox cannot raise them, and podman's
// defaults are higher). Harmless on an ordinary host.
import { readFileSync } from 'node:fs';

/** Above this many processes runc's setrlimit is refused here, even under the current limit. */
const NPROC_CAP = 32768;

function softLimit(name: string, fallback: number): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(name));
  const v = line?.slice(name.length).trim().split(/\s+/)[0];
  return v && /^\d+$/.test(v) ? Number(v) : fallback;
}

/** `podman run` flags for every container the lab and the tests run. */
export function runtimeFlags(): string[] {
  const nofile = softLimit('Max open files', 1024);
  const nproc = Math.min(softLimit('Max processes', 4096), NPROC_CAP);
  return ['--runtime', 'runc', '--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}
