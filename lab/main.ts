// tortie-lab: builds a local cluster in network namespaces. The README's main job.
import { spawnSync } from 'node:child_process';
import { entryCommand } from './routing.js';
import { Command, InvalidArgumentError } from 'commander';
import { formatMatrix, pingMatrix } from './ping.js';
import { collectStatus, formatStatus } from './status.js';
import { families, requireState, saveState, type Encap, type IpFamilies, type LabNode, type LabState } from './state.js';
import { resolveTarget, type ExecTarget } from './targets.js';
import { addNamespace, addPod, attach, delNode, delPod, down, up } from './topology.js';
import { bgpApi, datastoreEnv, signalAgent, startNodeAgent } from './agents.js';
import { kubectlArgv, restartApiserver, signalApiserver, waitApiserverReady } from './kube.js';
import { addReflectors, startReflector } from './rr.js';
import { restartNodeContainer, signalNodeContainer } from './containers.js';
import { findMember, memberPids, memberStatus, signalMember, startMember } from './etcd.js';

async function currentLeader(s: LabState): Promise<string> {
  const leader = (await memberStatus(s)).find((m) => m.leader);
  if (!leader) throw new Error('no etcd member is leader right now (tortie-lab status shows the members)');
  return leader.name;
}

const log = (l: string): void => void process.stdout.write(`${l}\n`);

function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
    return n;
  };
}

function labels(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of v.split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`label "${kv}" must be key=value`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** One matrix per family the lab's pods have (titled when there is IPv6). */
async function doPing(): Promise<boolean> {
  const s = requireState();
  let ok = true;
  for (const f of families(s)) {
    const results = await pingMatrix(s.pods, f);
    if (families(s).includes(6)) log(`IPv${f}:`);
    log(formatMatrix(s.pods, results, f));
    ok &&= results.every((r) => r.ok);
  }
  return ok;
}

/** A node's or reflector's environment as its agent has it, so `exec node1 -- tortiectl node status`
 *  (and any tortiectl command) works inside a host as it does on a real node. */
function agentEnv(s: LabState, t: ExecTarget): Record<string, string> {
  if (t.kind !== 'node' && t.kind !== 'reflector') return {};
  return { ...datastoreEnv(s), TORTIE_GOBGP_API_HOSTS: bgpApi({ name: t.name }), ...(t.kind === 'node' ? { NODENAME: t.name } : {}) };
}

const program = new Command('tortie-lab').description('Tortie local lab: a cluster in network namespaces').showHelpAfterError();

program
  .command('up')
  .description('build the lab')
  .option('--nodes <n>', 'number of hosts', intArg('--nodes', 1, 50), 3)
  .option('--etcd <n>', 'etcd members: 1, or a cluster of 3 or 5 (each in its own namespace)', intArg('--etcd', 1, 5), 1)
  .option('--subnets <k>', '1 or 2 L2 segments (2 adds a router between them)', intArg('--subnets', 1, 2), 1)
  .option('--encap <mode>', 'none | ipip | vxlan', 'none')
  .option('--cross-subnet', 'encapsulate only between subnets', false)
  .option('--no-nat-outgoing', 'do not masquerade pod traffic leaving the pool')
  .option('--rr <n>', 'tortie-rr route reflectors (mesh off, every node peers with them)', intArg('--rr', 0, 4), 0)
  .option('--pods-per-node <k>', 'pods per host', intArg('--pods-per-node', 0, 60), 2)
  .option('--static', 'no tortie-node: the lab computes routes and programs them with felix itself', false)
  .option('--mtu <bytes>', "the fabric's MTU (hosts, router, etcd and bridges); pods and tunnels get Calico's MTU computed from it", intArg('--mtu', 1280, 9216))
  .option('--containers', 'tortie-node (install-cni first), tortie-rr and (on kubernetes) tortie-controllers from the images with podman, as manifests/ runs them (make images)', false)
  .option('--datastore <type>', 'etcdv3 | kubernetes (kube-apiserver beside etcd; every host a Kubernetes Node)', 'etcdv3')
  .option('--ipv6', 'IPv6 only: ULA fabric addresses too, pods get an IPv6 address from the IPv6 pool (fd65::/48)', false)
  .option('--dual-stack', 'pods get an IPv4 and an IPv6 address; routing and policy in both families', false)
  .action(async (o: { nodes: number; etcd: number; subnets: number; encap: string; crossSubnet: boolean; natOutgoing: boolean; rr: number; podsPerNode: number; static: boolean; containers: boolean; datastore: string; mtu?: number; ipv6: boolean; dualStack: boolean }) => {
    if (o.ipv6 && o.dualStack) throw new InvalidArgumentError('--ipv6 (IPv6 only) and --dual-stack exclude each other');
    const ipFamilies: IpFamilies = o.ipv6 ? 'ipv6' : o.dualStack ? 'dual' : 'ipv4';
    if (ipFamilies !== 'ipv4' && (o.static || o.containers)) throw new InvalidArgumentError(`--${o.ipv6 ? 'ipv6' : 'dual-stack'} runs tortie-node from source: it cannot be combined with --static or --containers`);
    if (o.ipv6 && o.encap === 'ipip') throw new InvalidArgumentError('--encap ipip carries IPv4 only: use --encap none or vxlan with --ipv6');
    if (![1, 3, 5].includes(o.etcd)) throw new InvalidArgumentError(`--etcd must be 1, 3 or 5 (an odd quorum), got ${o.etcd}`);
    if (!['none', 'ipip', 'vxlan'].includes(o.encap)) throw new InvalidArgumentError(`--encap must be none, ipip or vxlan, got "${o.encap}"`);
    if (o.rr > 0 && (o.static || o.encap === 'vxlan')) throw new InvalidArgumentError('--rr needs BGP: agent mode (no --static) with --encap none or ipip');
    if (o.containers && o.static) throw new InvalidArgumentError('--containers runs tortie-node: it cannot be combined with --static');
    if (o.datastore !== 'etcdv3' && o.datastore !== 'kubernetes') throw new InvalidArgumentError(`--datastore must be etcdv3 or kubernetes, got "${o.datastore}"`);
    if (o.datastore === 'kubernetes' && (o.static || o.etcd !== 1))
      throw new InvalidArgumentError('--datastore kubernetes runs tortie-node against one apiserver: it cannot be combined with --static or --etcd N');
    const s = await up({ datastore: o.datastore, nodes: o.nodes, etcd: o.etcd, subnets: o.subnets === 2 ? 2 : 1, encap: o.encap as Encap, crossSubnet: o.crossSubnet, natOutgoing: o.natOutgoing, podsPerNode: o.podsPerNode, mode: o.static ? 'static' : 'agent', containers: o.containers, ipFamilies, ...(o.mtu ? { mtu: o.mtu } : {}), log });
    if (o.rr > 0) await addReflectors(s, o.rr, log);
    log('lab is up: `tortie-lab status`, `tortie-lab ping`, `tortie-lab down`');
  });

program
  .command('status')
  .option('-o, --output <fmt>', 'text | json', 'text')
  .action(async (o: { output: string }) => {
    const st = await collectStatus(requireState());
    log(o.output === 'json' ? JSON.stringify(st, null, 2) : formatStatus(st));
  });

program.command('ping').description('pod-to-pod matrix by ICMP').action(async () => {
  if (!(await doPing())) process.exitCode = 1;
});

program
  .command('exec <target>')
  .description('run a command in a node, reflector, pod or attached namespace: exec [-n NS] NODE|POD|NS/POD -- CMD')
  .option('-n, --namespace <ns>', 'namespace of the pod (needed when two namespaces have a pod of that name)')
  .argument('<cmd...>')
  .action((target: string, cmd: string[], o: { namespace?: string }) => {
    const s = requireState();
    const t = resolveTarget(s, target, o.namespace);
    const r = spawnSync('ip', ['netns', 'exec', t.ns, ...cmd], { stdio: 'inherit', env: { ...process.env, ...agentEnv(s, t) } });
    process.exitCode = r.status ?? 1;
  });

program
  .command('ctl')
  .description("tortiectl against the lab's datastore")
  .allowUnknownOption()
  .argument('[args...]')
  .action((args: string[]) => {
    const s = requireState();
    // entryCommand: dist when built, the source under tsx otherwise (tests run the lab from source).
    const r = spawnSync('ip', ['netns', 'exec', s.etcdNs, ...entryCommand('ctl/main'), ...args], { stdio: 'inherit', env: { ...process.env, ...datastoreEnv(s) } });
    process.exitCode = r.status ?? 1;
  });

program
  .command('kubectl')
  .description("kubectl against the lab's kube-apiserver (up --datastore kubernetes)")
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action((args: string[]) => {
    const [cmd = '', ...argv] = kubectlArgv(requireState(), args);
    const r = spawnSync(cmd, argv, { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  });

program
  .command('ns')
  .description('namespaces')
  .command('add <name>')
  .option('--labels <k=v,...>', 'labels', labels, {})
  .action(async (name: string, o: { labels: Record<string, string> }) => {
    const s = requireState();
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) throw new Error(`namespace name "${name}" must be a DNS-1123 label`);
    await addNamespace(s, name, o.labels);
    log(`namespace ${name} added`);
  });

const pod = program.command('pod').description('pods');
pod
  .command('add <name>')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('--labels <k=v,...>', 'labels', labels, {})
  .option('--node <node>', 'host to place it on')
  .action(async (name: string, o: { namespace: string; labels: Record<string, string>; node?: string }) => {
    const s = requireState();
    if (!s.namespaces[o.namespace]) throw new Error(`namespace ${o.namespace} does not exist (tortie-lab ns add ${o.namespace})`);
    const p = await addPod(s, { name, namespace: o.namespace, labels: o.labels, ...(o.node ? { node: o.node } : {}) });
    log(`pod ${p.namespace}/${p.name} ${p.ip} on ${p.node} (${p.iface})`);
  });
pod
  .command('del <name>')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .action(async (name: string, o: { namespace: string }) => {
    await delPod(requireState(), name, o.namespace);
    log(`pod ${o.namespace}/${name} deleted`);
  });

program
  .command('attach <name>')
  .description('an empty namespace on a fabric segment, for your own router')
  .requiredOption('--ip <addr/len>', 'address on the segment')
  .option('--subnet <k>', 'segment index', intArg('--subnet', 0, 1), 0)
  .action(async (name: string, o: { ip: string; subnet: number }) => {
    const ns = await attach(requireState(), name, o.ip, o.subnet);
    log(`attached ${name} (${o.ip}) as namespace ${ns}: ip netns exec ${ns} …`);
  });

const nodeCmd = program.command('node').description('hosts and reflectors: tortie-node / tortie-rr kill, stop, start; del');
/** A host running tortie-node, or a reflector (rrK) running tortie-rr. */
const findAgent = (name: string): { s: LabState; ns: string; entry: 'node/main' | 'rr/main'; node?: LabNode; start: () => number | undefined } => {
  const s = requireState();
  const n = s.nodes.find((x) => x.name === name);
  const rr = (s.reflectors ?? []).includes(name) ? s.attached.find((a) => a.name === name) : undefined;
  if (rr && s.containers) throw new Error(`${name} runs from the tortie/rr image: use podman to restart its container`);
  if (rr) return { s, ns: rr.ns, entry: 'rr/main', start: () => startReflector(s, Number(name.slice(2)), rr.ns) };
  if (!n) throw new Error(`no node or reflector named ${name}`);
  if (s.mode !== 'agent') throw new Error('this lab runs without tortie-node (--static)');
  return { s, ns: n.ns, entry: 'node/main', node: n, start: () => startNodeAgent(s, n) };
};
const agentName = (entry: string): string => (entry === 'rr/main' ? 'tortie-rr' : 'tortie-node');
for (const [cmd, sig] of [['kill', 'SIGKILL'], ['stop', 'SIGTERM']] as const) {
  nodeCmd.command(`${cmd} <name>`).description(`${sig} tortie-node on a host, or tortie-rr on a reflector (the dataplane stays)`).action(async (name: string) => {
    const a = findAgent(name);
    if (a.s.containers && a.node) log(`${sig} sent to ${(await signalNodeContainer(a.s, a.node, sig)) ? 'the tortie-node container' : 'no running container'} on ${name}`);
    else log(`${sig} sent to ${await signalAgent(a, sig, a.entry)} ${agentName(a.entry)} process(es) on ${name}`);
  });
}
nodeCmd.command('del <name>').description('remove a host: its pods (CNI DEL), tortie-node, its Node, blocks and namespace').action(async (name: string) => {
  const s = requireState();
  await delNode(s, name);
  log(`node ${name} deleted`);
});
nodeCmd.command('start <name>').description('start tortie-node on a host (tortie-rr on a reflector) again').action(async (name: string) => {
  const a = findAgent(name);
  if (a.s.containers && a.node) {
    await restartNodeContainer(a.s, a.node);
    log(`tortie-node container started on ${name}`);
    return;
  }
  const pid = a.start();
  if (pid) a.s.pids.push(pid);
  saveState(a.s);
  log(`${agentName(a.entry)} started on ${name}`);
});

const etcdCmd = program.command('etcd').description('etcd members: kill, stop, start (fault injection); `status` shows them and the leader');
for (const [cmd, sig] of [['kill', 'SIGKILL'], ['stop', 'SIGTERM']] as const) {
  etcdCmd.command(`${cmd} <member>`).description(`${sig} one etcd member (its data stays for \`etcd start\`); "leader" names the current leader`).action(async (name: string) => {
    const s = requireState();
    const m = findMember(s, name === 'leader' ? await currentLeader(s) : name);
    log(`${sig} sent to ${await signalMember(m, sig)} etcd process(es) of ${m.name}`);
  });
}
etcdCmd.command('start <member>').description('start a stopped etcd member again, with its data').action(async (name: string) => {
  const s = requireState();
  const m = findMember(s, name);
  if ((await memberPids(m)).length) throw new Error(`etcd member ${m.name} is already running`);
  const pid = startMember(s, m);
  if (pid) s.pids.push(pid);
  saveState(s);
  log(`etcd member ${m.name} started`);
});

const apiCmd = program.command('apiserver').description('the lab\'s kube-apiserver (up --datastore kubernetes): kill, stop, start (fault injection); `status` shows it');
for (const [cmd, sig] of [['kill', 'SIGKILL'], ['stop', 'SIGTERM']] as const) {
  apiCmd.command(cmd).description(`${sig} kube-apiserver (its storage in etcd stays for \`apiserver start\`)`).action(async () => {
    log(`${sig} sent to ${await signalApiserver(requireState(), sig)} kube-apiserver process(es)`);
  });
}
apiCmd.command('start').description('start the stopped kube-apiserver again (same flags, certificates and storage); returns once it is ready').action(async () => {
  const s = requireState();
  const pid = await restartApiserver(s);
  if (pid) s.pids.push(pid);
  saveState(s);
  await waitApiserverReady(s);
  log('kube-apiserver started');
});

program.command('down').description('remove every namespace, process and temp dir').action(async () => {
  await down(log);
});

program.command('demo').description('down, up 3 nodes, status, ping matrix').action(async () => {
  await down(() => undefined);
  log('Tortie demo: 3 hosts in network namespaces, each running tortie-node (BGP full mesh), 2 pods per host made by the CNI plugin.');
  log('');
  await up({ nodes: 3, subnets: 1, encap: 'none', crossSubnet: false, natOutgoing: true, podsPerNode: 2, mode: 'agent', log });
  log('');
  log('$ tortie-lab status');
  log(formatStatus(await collectStatus(requireState())));
  log('');
  log('$ tortie-lab ping');
  const ok = await doPing();
  log('');
  log('Try: ./bin/tortie-lab exec pod-node1-1 -- ping -c1 <pod IP>   ./bin/tortie-lab pod add web --labels app=web   ./bin/tortie-lab ctl get nodes');
  log('Tear down with: ./bin/tortie-lab down');
  if (!ok) process.exitCode = 1;
});

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`tortie-lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
