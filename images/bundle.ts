// Packages Tortie for shipping (`make bundles`): one esbuild bundle per program in build/, no
// node_modules needed beside them, and the CNI plugins as one self-contained executable (a Node
// single executable application: the node binary with the plugin bundle injected) that runs on a
// host without the checkout, node_modules or Node.js — as Calico's calico/calico-ipam are one binary.
//   build/tortie-node.mjs tortiectl.mjs tortie-rr.mjs tortie-controllers.mjs install-cni.mjs   (run with node)
//   build/node.napi.node                                                (netlink's native part)
//   build/tortie, build/tortie-ipam                                     (SEA, dispatch on basename)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { FULL_PLUGIN_ASSET } from '../install/plugin-name.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'build');
/** The fuse every Node SEA binary carries; postject flips it when the blob is injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * netlink loads its native part through node-gyp-build relative to its own directory, which a
 * bundle no longer has: point the require at this platform's prebuilt N-API module instead and let
 * esbuild's copy loader place it beside the bundle.
 */
const netlinkNative: Plugin = {
  name: 'netlink-native',
  setup(b) {
    b.onLoad({ filter: /[\\/]netlink[\\/]dist[\\/]raw\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const call = "require('node-gyp-build')(__dirname + '/..')";
      if (!src.includes(call)) throw new Error(`${args.path}: the node-gyp-build call this bundle rewrites has changed`);
      return { contents: src.replace(call, `require('../prebuilds/linux-${arch()}/node.napi.node')`), loader: 'js' };
    });
  },
};

/**
 * etcd3 reads its gRPC service definition from ../proto/*.proto beside its own file at load time,
 * which a bundle (and a single executable) does not have: parse it now, with the options etcd3
 * passes, and hand proto-loader the parsed descriptor instead (its fromJSON).
 */
const etcdProto: Plugin = {
  name: 'etcd3-proto',
  setup(b) {
    b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const call = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {';
      if (!src.includes(call)) throw new Error(`${args.path}: the proto loading this bundle rewrites has changed`);
      // The protobufjs that etcd3's proto-loader uses, so the descriptor format matches.
      const fromEtcd = createRequire(args.path);
      const pbjs = createRequire(fromEtcd.resolve('@grpc/proto-loader'))('protobufjs') as ProtobufJs;
      const root = new pbjs.Root();
      root.loadSync(join(args.path, '../../proto/rpc.proto'), { keepCase: true });
      const descriptor = JSON.stringify(root.toJSON());
      return { contents: src.replace(call, `(0, proto_loader_1.fromJSON)(${descriptor}, {`), loader: 'js' };
    });
  },
};

/**
 * The single executable's main script without what a dynamic import() reaches (the datastore
 * clients of the agent-less path): install/cni-plugins.ts runs such commands through the full
 * plugin asset instead, so these imports are never evaluated there.
 */
const lazyLeftOut: Plugin = {
  name: 'lazy-left-out',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
  },
};

interface ProtobufJs {
  Root: new () => { loadSync(file: string, opts: { keepCase: boolean }): unknown; toJSON(): unknown };
}

// ES module bundles still contain CommonJS dependencies that call require() and read __dirname.
const ESM_BANNER = [
  "import { createRequire as __tortieRequire } from 'node:module';",
  "import { dirname as __tortieDirname } from 'node:path';",
  "import { fileURLToPath as __tortiePath } from 'node:url';",
  'const require = __tortieRequire(import.meta.url);',
  'const __filename = __tortiePath(import.meta.url);',
  'const __dirname = __tortieDirname(__filename);',
].join(' ');

async function bundle(entry: string, outfile: string, format: 'esm' | 'cjs', extra: Plugin[] = []): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile: join(OUT, outfile),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [...extra, netlinkNative, etcdProto],
    // koffi (setsockopt for TCP-MD5 and GTSM) finds its native part by paths relative to its own
    // package, which a bundle cannot keep: it stays a package of its own beside the bundles.
    external: ['koffi'],
    loader: { '.node': 'copy' },
    assetNames: '[name]',
    ...(format === 'esm' ? { banner: { js: ESM_BANNER } } : {}),
  });
}

/** build/node_modules/koffi and its prebuilt native part for this machine's platform. */
function copyKoffi(): void {
  const pkg = `koffi-${process.platform}-${process.arch}`;
  cpSync(join(ROOT, 'node_modules/koffi'), join(OUT, 'node_modules/koffi'), { recursive: true });
  cpSync(join(ROOT, 'node_modules/@koromix', pkg, `${process.platform}_${process.arch}`), join(OUT, 'node_modules/@koromix', pkg, `${process.platform}_${process.arch}`), { recursive: true });
  for (const f of ['package.json', 'index.js']) copyFileSync(join(ROOT, 'node_modules/@koromix', pkg, f), join(OUT, 'node_modules/@koromix', pkg, f));
}

/** build/tortie: node + the CJS plugin bundle (and the full plugin as an asset) as a SEA blob; tortie-ipam is a copy. */
function singleExecutable(bundleFile: string, fullFile: string): void {
  const blob = join(OUT, 'cni.blob');
  const seaConfig = join(OUT, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: join(OUT, bundleFile), output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, assets: { [FULL_PLUGIN_ASSET]: join(OUT, fullFile) } }),
  );
  // Both tools chatter on success (postject warns about ELF note names); their output shows on failure.
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'pipe' });
  const tmp = join(OUT, 'tortie.tmp');
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(ROOT, 'node_modules/postject/dist/cli.js');
  execFileSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' });
  renameSync(tmp, join(OUT, 'tortie'));
  copyFileSync(join(OUT, 'tortie'), join(OUT, 'tortie-ipam.tmp'));
  renameSync(join(OUT, 'tortie-ipam.tmp'), join(OUT, 'tortie-ipam'));
  rmSync(blob);
  rmSync(seaConfig);
}

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  await bundle('node/main.ts', 'tortie-node.mjs', 'esm');
  await bundle('ctl/main.ts', 'tortiectl.mjs', 'esm');
  await bundle('rr/main.ts', 'tortie-rr.mjs', 'esm');
  await bundle('controllers/main.ts', 'tortie-controllers.mjs', 'esm');
  await bundle('install/main.ts', 'install-cni.mjs', 'esm');
  copyKoffi();
  // GoBGP's API definitions, read at run time by the gRPC server (bgp/api/gobgp/server.ts).
  cpSync(join(ROOT, 'bgp/api/proto'), join(OUT, 'proto'), { recursive: true });
  // A SEA's main script is CommonJS in Node 20.
  await bundle('install/cni-plugins.ts', 'cni-plugins.cjs', 'cjs', [lazyLeftOut]);
  await bundle('install/cni-full.ts', 'cni-full.cjs', 'cjs');
  singleExecutable('cni-plugins.cjs', 'cni-full.cjs');
  rmSync(join(OUT, 'cni-plugins.cjs'));
  rmSync(join(OUT, 'cni-full.cjs'));
  process.stderr.write(`==> bundles and the CNI executable in build/ (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bundle: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
