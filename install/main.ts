// install-cni: the tortie-node DaemonSet's init container, as Calico's `install` is. Copies the
// self-contained CNI plugins onto the host, the etcd TLS files from the Secret, a kubeconfig for
// the plugin (in Kubernetes), and the conflist. Each file is written to a temp name and renamed, and
// only when its content or mode differs: a second run changes nothing.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  apiServerFromEnv,
  DEFAULT_TEMPLATE,
  KUBECONFIG_NAME,
  parseSettings,
  placeholders,
  renderConflist,
  renderKubeconfig,
  TLS_DIR_NAME,
  TLS_FILES,
  type InstallSettings,
  type TlsFile,
} from './cni-config.js';
import { requestToken } from './token.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The plugins in the image; TORTIE_CNI_SOURCE_DIR points elsewhere (tests, a build/ directory). */
const SOURCE_DIR = process.env.TORTIE_CNI_SOURCE_DIR?.trim() || '/opt/cni/bin';

const log = (msg: string): void => void process.stderr.write(`install-cni: ${msg}\n`);

function readIf(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Writes `data` to `path` through a temp file and rename, unless it already holds exactly that. */
function installFile(path: string, data: Buffer | string, mode: number): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (existsSync(path)) {
    const st = statSync(path);
    if ((st.mode & 0o7777) === mode && st.size === bytes.length && readFileSync(path).equals(bytes)) return false;
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, bytes, { mode });
  chmodSync(tmp, mode); // writeFileSync's mode is masked by the umask
  renameSync(tmp, path);
  return true;
}

function installBinaries(s: InstallSettings): void {
  for (const name of readdirSync(SOURCE_DIR).sort()) {
    if (s.skipBinaries.includes(name)) continue;
    const target = join(s.binDir, name);
    if (existsSync(target) && !s.updateBinaries) {
      log(`${target} exists and UPDATE_CNI_BINARIES=false: kept`);
      continue;
    }
    const src = join(SOURCE_DIR, name);
    if (installFile(target, readFileSync(src), statSync(src).mode & 0o7777)) log(`installed ${target}`);
  }
}

/** The etcd TLS files from the Secret, for the plugin on the host; returns which are there. */
function installTls(s: InstallSettings): Set<TlsFile> {
  const have = new Set<TlsFile>();
  for (const f of TLS_FILES) {
    const data = existsSync(join(s.tlsAssetsDir, f)) ? readFileSync(join(s.tlsAssetsDir, f)) : undefined;
    if (!data) continue;
    if (installFile(join(s.netDir, TLS_DIR_NAME, f), data, 0o600)) log(`installed ${join(s.netDir, TLS_DIR_NAME, f)}`);
    have.add(f);
  }
  return have;
}

/** Runs the installed plugin once (CNI VERSION): proof the copy on the host executes there. */
function checkPlugin(s: InstallSettings): Promise<void> {
  const exe = join(s.binDir, 'tortie');
  if (!existsSync(exe)) return Promise.resolve();
  return new Promise((res, rej) => {
    const child = execFile(exe, [], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8', timeout: 30_000 }, (err, stdout) => {
      if (err) rej(new Error(`${exe} does not run: ${err.message}`));
      else {
        log(`${exe} runs: ${stdout.trim()}`);
        res();
      }
    });
    child.stdin?.end('{"cniVersion":"1.0.0"}');
  });
}

/** CALICO_CNI_SERVICE_ACCOUNT's token when set (Kubernetes datastore), else this pod's own. */
async function pluginToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const own = readIf(join(SERVICE_ACCOUNT_DIR, 'token'));
  const account = env.CALICO_CNI_SERVICE_ACCOUNT?.trim();
  if (!account || own === undefined || !env.KUBERNETES_SERVICE_HOST) return own;
  const namespace = readIf(join(SERVICE_ACCOUNT_DIR, 'namespace'))?.trim() || 'kube-system';
  return requestToken(account, namespace);
}

async function main(): Promise<number> {
  const env = process.env;
  const templateFile = env.CNI_NETWORK_CONFIG_FILE?.trim();
  const template = templateFile ? readIf(resolve(templateFile)) : env.CNI_NETWORK_CONFIG;
  if (templateFile && template === undefined) {
    log(`CNI_NETWORK_CONFIG_FILE: cannot read ${templateFile}`);
    return 1;
  }
  const parsed = parseSettings(env, template);
  if (!parsed.ok) {
    for (const e of parsed.errors) log(e);
    return 1;
  }
  const s = parsed.settings;
  // Render before writing anything, so a bad template leaves the host as it was.
  const tlsPresent = new Set(TLS_FILES.filter((f) => existsSync(join(s.tlsAssetsDir, f))));
  const rendered = renderConflist(s.template ?? DEFAULT_TEMPLATE, placeholders(env, s, { hostname: hostname(), tlsInstalled: tlsPresent }));
  if (!rendered.ok) {
    log(rendered.error);
    return 1;
  }
  for (const w of rendered.warnings) log(`warning: ${w}`);

  installBinaries(s);
  installTls(s);
  const api = apiServerFromEnv(env, await pluginToken(env), readIf(join(SERVICE_ACCOUNT_DIR, 'ca.crt')));
  if (api && installFile(join(s.netDir, KUBECONFIG_NAME), renderKubeconfig(api), 0o600)) log(`wrote ${join(s.netDir, KUBECONFIG_NAME)}`);
  const conf = join(s.netDir, s.confName);
  log(installFile(conf, rendered.conflist, 0o644) ? `wrote ${conf}` : `${conf} is up to date`);
  if (s.oldConfName !== s.confName && existsSync(join(s.netDir, s.oldConfName))) {
    rmSync(join(s.netDir, s.oldConfName));
    log(`removed the old ${join(s.netDir, s.oldConfName)}`);
  }
  await checkPlugin(s);
  if (s.sleep) {
    log('done; SLEEP=true: staying up');
    await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
  }
  log('done');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
