import { defineConfig } from 'vitest/config';

// "unit" is pure and fast (no root, no etcd); "integration" uses real etcd, network namespaces,
// BIRD, GoBGP, kube-apiserver and podman, and runs files one at a time. "slow" holds the long suites
// that share nothing with the others (the IPIP lab inside its own qemu VM; the etcd-fault, KDD and
// dual-stack labs, each under its own prefix and state dir; the 100-plugin KDD CNI test with its own
// apiserver): `make test` runs it in a second
// process beside the first, so the suite takes the longer of the two rather than their sum.
const SLOW = [
  'test/e2e/lab-ipip.test.ts',
  'test/e2e/lab-etcd-faults.test.ts',
  'test/e2e/lab-kdd.test.ts',
  'test/e2e/lab-dual-stack.test.ts',
  'test/e2e/cni-kdd.test.ts',
  'test/e2e/lab-kdd-faults.test.ts',
  'test/e2e/lab-containers-kdd.test.ts',
];
const ROOTED = { testTimeout: 180_000, hookTimeout: 120_000, pool: 'forks', poolOptions: { forks: { singleFork: true } } } as const;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{datastore,bgp,rr,ipam,felix,cni,node,ctl,lab,install,controllers}/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // Property tests are CPU-bound: beside the rooted suites on a loaded machine they take
          // many times their quiet run, and a test asserts behaviour, not a wall-clock figure.
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/{integration,interop,e2e}/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...SLOW],
          ...ROOTED,
        },
      },
      { test: { name: 'slow', include: SLOW, ...ROOTED } },
    ],
  },
});
