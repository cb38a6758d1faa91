// A real kubelet (v1.36, with Debian's containerd 1.6 and runc) as one lab host: a Pod bound to it
// gets its sandbox from containerd and its address from Tortie's CNI plugin as install-cni installed
// it, and deleting the Pod releases the address (test/k8s/kubelet-node.sh does the work). kubelet is
// not built by `make test` (`test/k8s/build.sh kubelet`, ~15 min): without it, or without
// containerd, this skips and says why.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/entry.js';

const goMod = readFileSync(join(ROOT, 'test', 'k8s', 'go.mod'), 'utf8');
const version = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1] ?? '?';
const KUBELET = join(process.env.TORTIE_K8S_CACHE ?? '/var/cache/tortie', `k8s-${version}`, 'kubelet');
const missing = [KUBELET, '/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/lib/cni/loopback'].filter((f) => !existsSync(f));
if (missing.length) console.warn(`kubelet-node.test.ts skipped: missing ${missing.join(', ')} (test/k8s/build.sh kubelet; apt-get install containerd runc containernetworking-plugins)`);

const ENV = { TORTIE_LAB_PREFIX: 'tkn-', TORTIE_LAB_STATE: '/run/tortie-kubelet-test', TORTIE_KUBELET_WORK: '/run/tortie-kubelet-test-node' };

describe.skipIf(missing.length > 0)('a real kubelet node with Tortie CNI', () => {
  it('runs a Pod with an address from the pool, releases it on delete, and leaves nothing behind', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(join(ROOT, 'test', 'k8s', 'kubelet-node.sh'), [], { env: { ...process.env, ...ENV }, encoding: 'utf8', timeout: 600_000 }, (err, out, errOut) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: out, stderr: errOut }),
      );
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^kubelet-node: OK \(10\.65\.\d+\.\d+\)$/m);
    expect(stderr).toMatch(/node node1: Ready=True v1\.36\.\d+ containerd:\/\/1\.\d+/);
    expect(stderr).toMatch(/cni\.projectcalico\.org\/podIP=10\.65\.\d+\.\d+\/32/);
    expect(stderr).toMatch(/inside the Pod: eth0 10\.65\.\d+\.\d+\/32/);
    expect(stderr).toMatch(/no IPAMHandle left/);

    // Cleaned up: namespaces, state, containerd's and kubelet's directories, mounts, cgroups.
    expect(readdirSync('/run/netns').filter((n) => n.startsWith(ENV.TORTIE_LAB_PREFIX))).toEqual([]);
    expect(existsSync(ENV.TORTIE_LAB_STATE)).toBe(false);
    expect(existsSync(ENV.TORTIE_KUBELET_WORK)).toBe(false);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(ENV.TORTIE_KUBELET_WORK);
    expect(existsSync('/sys/fs/cgroup/memory/tortie-kubelet-tkn')).toBe(false);
  }, 660_000);
});
