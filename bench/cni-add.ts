// CNI ADD / DEL wall time as a runtime sees it (`ip netns exec HOST plugin`, process start to
// result), p50 and p99 over N pods: tortie (compiled) served by a real tortie-node agent on its CNI
// socket against a real etcd, against Debian's reference `bridge` + `host-local` plugins
// (/usr/lib/cni) measured interleaved in the same run, printing our ratio to them. Also: tortie
// without an agent (the plugin's own datastore path) for a few pods, and 20 ADDs started at once on
// the node (all done, against one ADD's p50), and the CPU time of one ADD and DEL (plugin and the
// processes it waits for; less sensitive than wall time to other jobs). As root, after `npm run build`:
//   npx tsx bench/cni-add.ts [pods=60]
// TORTIE_CNI_PLUGIN=build/tortie measures that executable (`make bundles`' single executable, what
// install-cni installs) instead of dist/cni/tortie.js; TORTIE_CNI_BASELINE=<an older build's
// dist/cni/tortie.js> adds it as one more series, interleaved, for a before/after in one run.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execPlugin, startCniAgent, startEtcdIn, type PluginRun } from '../test/e2e/cni-helpers.js';
import type { NetnsDaemon } from '../test/harness/daemon.js';
import type { EtcdServer } from '../test/harness/etcd.js';
import { NetnsSet } from '../test/harness/netns.js';

const ROOT = new URL('..', import.meta.url).pathname;
const PODS = Math.max(Number(process.argv[2] ?? 60), 2);
const DIRECT_PODS = 10;
const BURST = 20;
const CPU_PODS = 10;
const NODE = 'bench-node';

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (x: number): string => `${x.toFixed(0).padStart(5)} ms`;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  for (const f of ['dist/cni/tortie.js', 'dist/node/main.js']) if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  const nets = new NetnsSet('cf');
  let etcd: EtcdServer | undefined;
  let agent: NetnsDaemon | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'tortie-cni-add-'));
  try {
    chmodSync(tmp, 0o755);
    const socket = join(tmp, 'cni.sock');
    const plugin = process.env.TORTIE_CNI_PLUGIN ? join(ROOT, process.env.TORTIE_CNI_PLUGIN) : `${process.execPath} ${join(ROOT, 'dist/cni/tortie.js')}`;
    const baseline = process.env.TORTIE_CNI_BASELINE;
    writeFileSync(join(tmp, 'tortie'), `#!/bin/sh\nexec ${plugin}\n`, { mode: 0o755 });
    if (baseline) writeFileSync(join(tmp, 'baseline'), `#!/bin/sh\nexec ${process.execPath} ${baseline}\n`, { mode: 0o755 });
    // GNU time writes "user sys" of the plugin and the children it waited for (ip, host-local).
    const cpuFile = join(tmp, 'cpu.txt');
    const timeWrap = (exe: string): string => `#!/bin/sh\nexec /usr/bin/time -f '%U %S' -o ${cpuFile} ${exe}\n`;
    writeFileSync(join(tmp, 'tortie-cpu'), timeWrap(plugin), { mode: 0o755 });
    writeFileSync(join(tmp, 'bridge-cpu'), timeWrap('/usr/lib/cni/bridge'), { mode: 0o755 });
    const host = await nets.add('host');
    for (const argv of [
      ['sysctl', '-qw', 'net.ipv4.ip_forward=1'],
      ['ip', 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1'],
      ['ip', 'link', 'set', 'uplink0', 'up'],
      ['ip', 'link', 'set', 'uplink1', 'up'],
      ['ip', 'route', 'add', 'default', 'dev', 'uplink0'],
    ])
      await nets.exec(host, argv);
    const started = await startEtcdIn(nets, host);
    etcd = started.etcd;
    agent = await startCniAgent(host, socket, join(tmp, 'agent.log'), { NODENAME: NODE, CALICO_IPV4POOL_CIDR: '10.245.0.0/16' }, [process.execPath, join(ROOT, 'dist/node/main.js')]);

    const ours = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', nodename: NODE, agent_socket: socket, ipam: { type: 'calico-ipam' } };
    // The agent-less path: no socket there, so the plugin loads the etcd client itself.
    const direct = { ...ours, agent_socket: join(tmp, 'absent.sock'), etcd_endpoints: 'http://127.0.0.1:2379' };
    const reference = { cniVersion: '1.0.0', name: 'bench-ref', type: 'bridge', bridge: 'cnibench0', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], dataDir: join(tmp, 'host-local') } };

    type Kind = 'tortie' | 'baseline' | 'direct' | 'reference';
    const run = (kind: Kind, command: 'ADD' | 'DEL', cid: string, ns: string, cpu = false): Promise<PluginRun> => {
      const exe = cpu ? join(tmp, kind === 'reference' ? 'bridge-cpu' : 'tortie-cpu') : kind === 'reference' ? '/usr/lib/cni/bridge' : join(tmp, kind === 'baseline' ? 'baseline' : 'tortie');
      const env = { CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: kind === 'reference' ? '/usr/lib/cni' : tmp, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${cid};K8S_POD_INFRA_CONTAINER_ID=${cid}` };
      return execPlugin(host, exe, env, kind === 'reference' ? reference : kind === 'direct' ? direct : ours);
    };
    const timed = async (kind: Kind, command: 'ADD' | 'DEL', cid: string, ns: string): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const r = await run(kind, command, cid, ns);
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.code !== 0) throw new Error(`${kind} ${command} ${cid} failed: ${r.raw}`);
      return t;
    };
    const pods = async (kind: Kind, n: number, tag: string): Promise<{ cid: string; ns: string }[]> => {
      const out = [];
      for (let i = 0; i < n; i++) out.push({ cid: `${kind}${tag}${i}`, ns: await nets.add(`${kind[0]}${tag}${i}`) });
      return out;
    };

    // Warm-up (page cache, the agent's first block claim), not measured.
    const [w] = await pods('tortie', 1, 'w');
    await timed('tortie', 'ADD', w!.cid, w!.ns);
    await timed('tortie', 'DEL', w!.cid, w!.ns);
    const loadBefore = loadavg();

    const series = { tortie: { ADD: [] as number[], DEL: [] as number[] }, baseline: { ADD: [] as number[], DEL: [] as number[] }, direct: { ADD: [] as number[], DEL: [] as number[] }, reference: { ADD: [] as number[], DEL: [] as number[] } };
    const sets = { tortie: await pods('tortie', PODS, 's'), baseline: baseline ? await pods('baseline', PODS, 's') : [], reference: await pods('reference', PODS, 's'), direct: await pods('direct', DIRECT_PODS, 's') };
    const kinds = (i: number): Kind[] => ['tortie', ...(baseline ? ['baseline' as const] : []), 'reference', ...(i < DIRECT_PODS ? ['direct' as const] : [])];
    // Interleaved, so that load from other jobs hits every series alike.
    for (let i = 0; i < PODS; i++) {
      for (const kind of kinds(i)) {
        const p = sets[kind][i]!;
        series[kind].ADD.push(await timed(kind, 'ADD', p.cid, p.ns));
      }
    }
    for (let i = 0; i < PODS; i++) {
      for (const kind of kinds(i)) {
        const p = sets[kind][i]!;
        series[kind].DEL.push(await timed(kind, 'DEL', p.cid, p.ns));
      }
    }

    // BURST ADDs started at once on the node: the time until the last is done.
    const burst = async (kind: Kind): Promise<{ add: number; del: number }> => {
      const ps = await pods(kind, BURST, 'b');
      const t0 = Date.now();
      await Promise.all(ps.map((p) => timed(kind, 'ADD', p.cid, p.ns)));
      const add = Date.now() - t0;
      const t1 = Date.now();
      await Promise.all(ps.map((p) => timed(kind, 'DEL', p.cid, p.ns)));
      return { add, del: Date.now() - t1 };
    };
    const burstOurs = await burst('tortie');
    const burstRef = await burst('reference');

    const cpu = { tortie: { ADD: [] as number[], DEL: [] as number[] }, reference: { ADD: [] as number[], DEL: [] as number[] } };
    const cpuSets = { tortie: await pods('tortie', CPU_PODS, 'c'), reference: await pods('reference', CPU_PODS, 'c') };
    for (let i = 0; i < CPU_PODS; i++) {
      for (const kind of ['tortie', 'reference'] as const) {
        for (const command of ['ADD', 'DEL'] as const) {
          const p = cpuSets[kind][i]!;
          const r = await run(kind, command, p.cid, p.ns, true);
          if (r.code !== 0) throw new Error(`${kind} ${command} (CPU run) failed: ${r.raw}`);
          const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          cpu[kind][command].push(((u ?? NaN) + (sy ?? NaN)) * 1000);
        }
      }
    }

    console.log(`${PODS} pods per series (the agent-less path: ${DIRECT_PODS}), interleaved; load average before ${loadBefore}, after ${loadavg()} (2 cores)`);
    console.log(`${'series'.padEnd(44)}${'ADD p50'.padStart(10)}${'ADD p99'.padStart(10)}${'DEL p50'.padStart(10)}${'DEL p99'.padStart(10)}`);
    const row = (name: string, s: { ADD: number[]; DEL: number[] }): void =>
      console.log(`${name.padEnd(44)}${ms(pct(s.ADD, 50)).padStart(10)}${ms(pct(s.ADD, 99)).padStart(10)}${ms(pct(s.DEL, 50)).padStart(10)}${ms(pct(s.DEL, 99)).padStart(10)}`);
    row('reference: bridge + host-local', series.reference);
    row(`tortie via tortie-node (CNI socket)${process.env.TORTIE_CNI_PLUGIN ? `, ${process.env.TORTIE_CNI_PLUGIN}` : ''}`, series.tortie);
    if (baseline) row('baseline (TORTIE_CNI_BASELINE)', series.baseline);
    row('tortie without an agent (own etcd client)', series.direct);
    // GNU time counts in 10 ms steps: a reference call can read 0.
    const ratio = (a: number[], b: number[], p: number): string => (pct(b, p) > 0 ? `${(pct(a, p) / pct(b, p)).toFixed(2)}×` : 'n/a (reference below 10 ms)');
    console.log(`tortie / reference: ADD p50 ${ratio(series.tortie.ADD, series.reference.ADD, 50)}, p99 ${ratio(series.tortie.ADD, series.reference.ADD, 99)}; DEL p50 ${ratio(series.tortie.DEL, series.reference.DEL, 50)}`);
    console.log(
      `CPU per call, median of ${CPU_PODS}: tortie ADD ${pct(cpu.tortie.ADD, 50).toFixed(0)} ms, DEL ${pct(cpu.tortie.DEL, 50).toFixed(0)} ms; reference ADD ${pct(cpu.reference.ADD, 50).toFixed(0)} ms, DEL ${pct(cpu.reference.DEL, 50).toFixed(0)} ms (${ratio(cpu.tortie.ADD, cpu.reference.ADD, 50)} / ${ratio(cpu.tortie.DEL, cpu.reference.DEL, 50)})`,
    );
    if (baseline) console.log(`tortie / baseline: ADD p50 ${ratio(series.tortie.ADD, series.baseline.ADD, 50)}, DEL p50 ${ratio(series.tortie.DEL, series.baseline.DEL, 50)}, DEL p99 ${ratio(series.tortie.DEL, series.baseline.DEL, 99)}`);
    console.log(`agent-less / via agent: ADD p50 ${ratio(series.direct.ADD, series.tortie.ADD, 50)}, DEL p50 ${ratio(series.direct.DEL, series.tortie.DEL, 50)}`);
    const single = pct(series.tortie.ADD, 50);
    console.log(`${BURST} ADDs at once: tortie all done in ${burstOurs.add} ms = ${(burstOurs.add / single).toFixed(2)}× its single ADD p50 (DELs ${burstOurs.del} ms); reference ${burstRef.add} ms = ${(burstRef.add / pct(series.reference.ADD, 50)).toFixed(2)}× its own (DELs ${burstRef.del} ms); tortie / reference ${(burstOurs.add / burstRef.add).toFixed(2)}×`);
  } finally {
    await agent?.kill('SIGTERM');
    await etcd?.stop();
    await nets.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
