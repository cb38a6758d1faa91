import { defineConfig } from 'vitest/config';

// Two projects: "unit" is pure and fast (no root, no etcd); "integration" uses real etcd,
// network namespaces, BIRD and GoBGP, and runs files one at a time so namespaces never collide.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{datastore,bgp,rr,ipam,felix,cni,node,ctl,lab,install,controllers}/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/{integration,interop,e2e}/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
