// The shipped images, used as a cluster uses them: make images builds tortie/node and tortie/rr from
// the cached Debian rootfs; install-cni run from the image puts exactly the plugins, TLS files and
// conflist on a "host" directory, and a second run changes nothing; the installed plugin works for
// ADD, CHECK and DEL on a host with only those files — run inside a bare Debian container (no
// checkout, node_modules or Node.js) joined to a lab host's namespace with etcd; and tortie-node
// runs from the image in a lab host's namespace and reports ready once in sync with etcd, and
// tortie-rr from its image registers as a reflector.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/entry.js';
import type { EtcdServer } from '../harness/etcd.js';
import { run } from '../harness/exec.js';
import { NetnsSet } from '../harness/netns.js';
import { ContainerSet } from '../harness/podman.js';
import { startEtcdIn } from './cni-helpers.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NODE_IMAGE = `localhost/tortie/node:${VERSION}`;
const RR_IMAGE = `localhost/tortie/rr:${VERSION}`;
const NODE = 'node-img';
const POOL = '10.246.0.0/16';

const sh = (cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });

/** Each file under dir (recursively) with its size, mode, mtime and inode: what a rerun must not change. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        out[p.slice(dir.length)] = `${st.size} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs} ${st.ino}`;
      }
    }
  };
  walk(dir);
  return out;
}

describe('images: tortie/node and tortie/rr', () => {
  const nets = new NetnsSet('i');
  const containers = new ContainerSet('tt-img');
  let tmp = '';
  let host = '';
  let etcd: EtcdServer | undefined;
  let etcdctl: (args: string[]) => Promise<string> = () => Promise.reject(new Error('etcd not started'));
  let bareHostImage = '';

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tortie-images-'));
    host = await nets.add('host');
    // An uplink with an address (tortie-node autodetects it) and a default route (proxy-ARP for the
    // pods' gateway answers only when the host can route).
    await nets.exec(host, ['ip', 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
    await nets.exec(host, ['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'uplink0']);
    for (const l of ['uplink0', 'uplink1']) await nets.exec(host, ['ip', 'link', 'set', l, 'up']);
    await nets.exec(host, ['ip', 'route', 'add', 'default', 'via', '10.99.0.254', 'dev', 'uplink0', 'onlink']);
    await nets.exec(host, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ({ etcd, etcdctl } = await startEtcdIn(nets, host));
    await etcdctl([
      'put',
      '/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool',
      JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: POOL, blockSize: 26, ipipMode: 'Never', natOutgoing: false } }),
    ]);
    await etcdctl(['put', `/calico/resources/v3/projectcalico.org/nodes/${NODE}`, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: NODE }, spec: {} })]);
  });

  afterAll(async () => {
    await containers.cleanup();
    await etcd?.stop();
    await nets.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('make images builds both from the cached Debian rootfs, version as tag and label', async () => {
    // `make test` bundles and builds first; this rebuild hits podman's layer cache.
    if (!existsSync(join(ROOT, 'build/tortie'))) await sh('npx', ['tsx', 'images/bundle.ts'], { cwd: ROOT });
    const out = await sh(join(ROOT, 'images/build.sh'), [], { cwd: ROOT });
    expect(out).toMatch(new RegExp(`^localhost/tortie/node:${VERSION} \\d+ MB$`, 'm'));
    expect(out).toMatch(new RegExp(`^localhost/tortie/rr:${VERSION} \\d+ MB$`, 'm'));
    for (const image of [NODE_IMAGE, RR_IMAGE]) {
      const label = await sh('podman', ['image', 'inspect', '--format', '{{index .Labels "org.opencontainers.image.version"}}', image]);
      expect(label.trim()).toBe(VERSION);
    }
    // Lean: no compilers, no tests, and of node_modules only koffi (a native runtime dependency a
    // bundle cannot hold: TCP-MD5 / GTSM setsockopt) with its prebuilt binary.
    const r = await containers.runOnce(['--network', 'none', NODE_IMAGE, 'sh', '-c', 'ls /opt/tortie/lib /opt/tortie/lib/node_modules; command -v gcc cc tsc || true; find / -xdev -name node_modules -not -path /opt/tortie/lib/node_modules | head -1']);
    expect(r.code, r.stderr).toBe(0);
    const listed = r.stdout.split('\n').filter((l) => l && !l.endsWith(':'));
    expect(listed.sort()).toEqual(['@koromix', 'install-cni.mjs', 'koffi', 'node.napi.node', 'node_modules', 'proto', 'tortie-node.mjs', 'tortiectl.mjs'].sort());
    bareHostImage = (await sh(join(ROOT, 'images/rootfs.sh'), [])).match(/^node=(\S+)$/m)?.[1] ?? '';
    expect(bareHostImage).toMatch(/^localhost\/tortie\/base-node:/);
  }, 900_000);

  const hostDir = (): { bin: string; net: string; secrets: string } => ({ bin: join(tmp, 'opt-cni-bin'), net: join(tmp, 'etc-cni-net.d'), secrets: join(tmp, 'secrets') });

  const installCni = (): Promise<{ code: number; stdout: string; stderr: string }> => {
    const d = hostDir();
    const template = readFileSync(join(ROOT, 'manifests/tortie-etcd.yaml'), 'utf8');
    // The manifest's cni_network_config, taken as kubelet would hand it over (the block under the key).
    const block = template.slice(template.indexOf('cni_network_config: |-') + 'cni_network_config: |-'.length, template.indexOf('\n---', template.indexOf('cni_network_config')));
    const conf = block
      .split('\n')
      .map((l) => l.slice(4))
      .join('\n');
    return containers.runOnce([
      '--network', 'none',
      '-e', 'SLEEP=false', '-e', 'DATASTORE_TYPE=etcdv3', '-e', 'CNI_MTU=1400', '-e', `KUBERNETES_NODE_NAME=${NODE}`,
      '-e', 'ETCD_ENDPOINTS=http://127.0.0.1:2379', '-e', `CNI_NETWORK_CONFIG=${conf}`,
      '-v', `${d.bin}:/host/opt/cni/bin`, '-v', `${d.net}:/host/etc/cni/net.d`, '-v', `${d.secrets}:/calico-secrets:ro`,
      NODE_IMAGE, 'install-cni',
    ]);
  };

  it('install-cni puts exactly the plugins, the TLS files and the conflist on the host; twice changes nothing', async () => {
    const d = hostDir();
    for (const p of [d.bin, d.net, d.secrets]) mkdirSync(p, { recursive: true });
    writeFileSync(join(d.secrets, 'etcd-ca'), 'CA PEM\n'); // as the Secret's files appear
    const first = await installCni();
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(d.bin).sort()).toEqual(['portmap', 'tortie', 'tortie-ipam']);
    expect(readdirSync(d.net).sort()).toEqual(['10-tortie.conflist', 'tortie-tls']);
    expect(readdirSync(join(d.net, 'tortie-tls'))).toEqual(['etcd-ca']);
    expect(statSync(join(d.net, 'tortie-tls/etcd-ca')).mode & 0o777).toBe(0o600);
    const conf = JSON.parse(readFileSync(join(d.net, '10-tortie.conflist'), 'utf8')) as { plugins: Record<string, unknown>[] };
    expect(conf.plugins[0]).toMatchObject({ type: 'tortie', nodename: NODE, mtu: 1400, etcd_endpoints: 'http://127.0.0.1:2379', etcd_ca_cert_file: '/etc/cni/net.d/tortie-tls/etcd-ca', etcd_cert_file: '' });
    expect(conf.plugins[1]).toMatchObject({ type: 'portmap', snat: true });
    expect(first.stderr).toContain('/host/opt/cni/bin/tortie runs:');

    const before = snapshot(tmp);
    const second = await installCni();
    expect(second.code, second.stderr).toBe(0);
    expect(snapshot(tmp)).toEqual(before);
    expect(second.stderr).toContain('is up to date');
  }, 300_000);

  it('the installed plugin does ADD, CHECK and DEL on a host with nothing but what install-cni copied', async () => {
    const d = hostDir();
    expect(bareHostImage).not.toBe('');
    const pod = await nets.add('pod');
    const cid = `img${process.pid}`;
    // The conflist install-cni wrote, as one network config (the runtime's view of the first plugin).
    const list = JSON.parse(readFileSync(join(d.net, '10-tortie.conflist'), 'utf8')) as { name: string; cniVersion: string; plugins: Record<string, unknown>[] };
    const netconf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0], etcd_ca_cert_file: '', kubernetes: undefined };
    const plugin = (command: string, stdin: Record<string, unknown>): Promise<{ code: number; out: Record<string, unknown> | undefined; raw: string }> =>
      containers
        .runOnce(
          [
            '--network', `ns:/run/netns/${host}`, '--privileged',
            // Debian bookworm with iproute2 and no Node.js; the plugins mounted where a host has them.
            '-v', `${d.bin}:/opt/cni/bin:ro`, '-v', '/run/netns:/run/netns',
            '-e', `CNI_COMMAND=${command}`, '-e', `CNI_CONTAINERID=${cid}`, '-e', `CNI_NETNS=/run/netns/${pod}`, '-e', 'CNI_IFNAME=eth0',
            '-e', 'CNI_PATH=/opt/cni/bin', '-e', `CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${cid}`,
            bareHostImage, 'sh', '-c', '! command -v node >/dev/null && exec /opt/cni/bin/tortie',
          ],
          JSON.stringify(stdin),
        )
        .then((r) => {
          let out: Record<string, unknown> | undefined;
          try {
            out = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
          } catch {
            out = undefined;
          }
          return { code: r.code, out, raw: r.stdout + r.stderr };
        });

    const add = await plugin('ADD', netconf);
    expect(add.code, add.raw).toBe(0);
    const ip = ((add.out?.ips as { address: string }[])[0]?.address ?? '').split('/')[0];
    expect(ip.startsWith('10.246.')).toBe(true);
    // The pod answers from the host namespace through the veth the plugin made.
    await nets.exec(host, ['ping', '-c', '1', '-W', '3', ip]);
    const weps = await etcdctl(['get', '--prefix', '--keys-only', '/calico/resources/v3/projectcalico.org/workloadendpoints/default/']);
    expect(weps).toContain('node--img-k8s-web--0-eth0');

    const check = await plugin('CHECK', { ...netconf, prevResult: add.out });
    expect(check.code, check.raw).toBe(0);

    const del = await plugin('DEL', netconf);
    expect(del.code, del.raw).toBe(0);
    expect((await etcdctl(['get', '--prefix', '--keys-only', '/calico/resources/v3/projectcalico.org/workloadendpoints/default/'])).trim()).toBe('');
    expect((await nets.exec(pod, ['ip', '-o', 'link', 'show'])).stdout).not.toContain('eth0');
  }, 300_000);

  it('tortie-node runs from the image in a lab host\'s namespace and is ready once in sync', async () => {
    const name = await containers.start('node', [
      '--network', `ns:/run/netns/${host}`, '--privileged',
      '-e', `NODENAME=${NODE}`, '-e', 'IP=10.99.0.1', '-e', 'ETCD_ENDPOINTS=http://127.0.0.1:2379', '-e', 'DATASTORE_TYPE=etcdv3',
      '-e', 'CALICO_NETWORKING_BACKEND=bird', '-e', 'NO_DEFAULT_POOLS=true',
      '-v', '/lib/modules:/lib/modules:ro',
      NODE_IMAGE,
    ]);
    // Health and metrics listen in the host's namespace, as the DaemonSet's probes expect.
    const get = (path: string): Promise<string> =>
      nets.exec(host, [process.execPath, '-e', `fetch('http://127.0.0.1:${path}').then(async (r) => { process.stdout.write(r.status + ' ' + await r.text()); })`]).then(
        (r) => r.stdout,
        () => '',
      );
    let ready = '';
    for (let i = 0; i < 120 && !ready.startsWith('200'); i++) {
      ready = await get('9099/readiness');
      if (!ready.startsWith('200')) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ready, await containers.logs(name)).toMatch(/^200 ready/);
    expect(await get('9099/liveness')).toMatch(/^200/);
    expect(await get('9091/metrics')).toMatch(/^tortie_datastore_in_sync 1$/m);
    // It registered its BGP address on its Node resource.
    const nodeDoc = JSON.parse(await etcdctl(['get', '--print-value-only', `/calico/resources/v3/projectcalico.org/nodes/${NODE}`])) as { spec?: { bgp?: { ipv4Address?: string } } };
    expect(nodeDoc.spec?.bgp?.ipv4Address).toMatch(/^10\.99\.0\.1\//);
    await run('podman', ['stop', '-t', '10', name]);
  }, 300_000);

  it('tortie-rr runs from its image with routereflector\'s environment and registers itself', async () => {
    const name = await containers.start('rr', [
      '--network', `ns:/run/netns/${host}`, '--privileged',
      '-e', 'IP=10.99.0.1', '-e', 'CLUSTER_ID=244.0.0.1', '-e', 'ETCD_ENDPOINTS=http://127.0.0.1:2379',
      RR_IMAGE,
    ]);
    let doc: { metadata?: { labels?: Record<string, string> }; spec?: { bgp?: { routeReflectorClusterID?: string } } } | undefined;
    for (let i = 0; i < 60 && !doc; i++) {
      const v = await etcdctl(['get', '--print-value-only', '/calico/resources/v3/projectcalico.org/nodes/rr-10-99-0-1']);
      if (v.trim()) doc = JSON.parse(v) as typeof doc;
      else await new Promise((r) => setTimeout(r, 500));
    }
    expect(doc, await containers.logs(name)).toBeDefined();
    expect(doc?.metadata?.labels).toMatchObject({ 'route-reflector': 'true' });
    expect(doc?.spec?.bgp?.routeReflectorClusterID).toBe('244.0.0.1');
  }, 120_000);
});
