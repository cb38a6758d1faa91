// `tortie-lab up --rr N`: Calico's route-reflector topology in the lab. N tortie-rr processes,
// each in its own host namespace on segment 0 (10.0.0.201…), registered through the datastore
// with one shared cluster id; a BGPPeer wires every node to them (nodeSelector all(),
// peerSelector route-reflector == 'true') and the node-to-node mesh is turned off — in that
// order, so the reflector sessions are up before the mesh sessions go away.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { withApi } from '../bgp/api/gobgp/client.js';
import type { PeerStatus } from '../bgp/speaker/types.js';
import { bgpApi, bgpApiHosts, datastoreEnv } from './agents.js';
import { reflectorManifest, startReflectorContainer } from './containers.js';
import { applyManifest } from './kube-accounts.js';
import { RR_NODE_OPTIONS } from '../rr/env.js';
import { entryCommand } from './routing.js';
import { nsExec } from './sh.js';
import { families, saveState, slowHostEnv, stateDir, waitBudget, type LabState } from './state.js';
import { registerNode } from './kube.js';
import { attach } from './topology.js';

export const RR_CLUSTER_ID = '244.0.0.1';

export const rrIp = (k: number): string => `10.0.0.${200 + k}`;
export const rrApi = (k: number): string => bgpApi({ name: `rr${k}` });
/** A reflector's IPv6 address on segment 0, in a lab with IPv6. */
export const rrIp6 = (k: number): string => `fd00::${200 + k}`;

const PEER_WITH_RRS = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
`;

async function ctl(s: LabState, args: string[], input?: string): Promise<string> {
  const env = Object.entries(datastoreEnv(s)).map(([k, v]) => `${k}=${v}`);
  return nsExec(s.etcdNs, ['env', ...env, ...entryCommand('ctl/main'), ...args], input);
}

/** Starts (or restarts: `tortie-lab node start rrK`) reflector k in its namespace. */
export function startReflector(s: LabState, k: number, ns: string): number | undefined {
  const log = openSync(join(stateDir(), `rr${k}.log`), 'a');
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...datastoreEnv(s),
    IP: rrIp(k),
    ...(families(s).includes(6) ? { IP6: rrIp6(k) } : {}),
    CLUSTER_ID: RR_CLUSTER_ID,
    NODENAME: `rr${k}`,
    TORTIE_GOBGP_API_HOSTS: bgpApiHosts({ name: `rr${k}` }),
  };
  const child = spawn('ip', ['netns', 'exec', ns, ...entryCommand('rr/main', RR_NODE_OPTIONS)], { detached: true, stdio: ['ignore', log, log], env });
  child.unref();
  return child.pid;
}

/** Every reflector has every node (and the other reflectors) Established. */
async function waitReflectors(s: LabState, n: number, log: (l: string) => void, timeoutMs = waitBudget(120_000)): Promise<void> {
  // One session per peer and family (Calico peers IPv4 with IPv4 and IPv6 with IPv6 addresses):
  // nodes have the lab's families, reflectors IPv4 and, in a lab with IPv6, IPv6 too.
  const want = s.nodes.length * families(s).length + (n - 1) * (families(s).includes(6) ? 2 : 1);
  const deadline = Date.now() + timeoutMs;
  for (let k = 1; k <= n; k++) {
    for (;;) {
      const peers = await withApi(rrApi(k), (c) => c.peers()).catch((): PeerStatus[] => []);
      const up = peers.filter((p) => p.state === 'Established').length;
      if (up >= want) break;
      if (Date.now() > deadline) throw new Error(`rr${k}: ${up}/${want} BGP sessions up after ${timeoutMs / 1000}s (log: ${join(stateDir(), `rr${k}.log`)})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`==> rr${k} ${rrIp(k)}: ${want} sessions up`);
  }
}

export async function addReflectors(s: LabState, n: number, log: (l: string) => void): Promise<void> {
  if (s.mode !== 'agent' || s.encap === 'vxlan') throw new Error('--rr needs BGP: agent mode with --encap none or ipip');
  // Its ServiceAccount and role first, as a user installs the reflectors.
  if (s.containers && s.kube) await applyManifest(s, reflectorManifest(s));
  for (let k = 1; k <= n; k++) {
    const ns = await attach(s, `rr${k}`, `${rrIp(k)}/24`, 0, families(s).includes(6) ? `${rrIp6(k)}/64` : undefined);
    // On the Kubernetes datastore a Calico Node is a Kubernetes Node: the reflector's host registers first.
    if (s.kube) await registerNode(s, `rr${k}`, rrIp(k));
    s.reflectors = [...(s.reflectors ?? []), `rr${k}`];
    if (s.containers) await startReflectorContainer(s, k, ns, rrIp(k), { TORTIE_GOBGP_API_HOSTS: bgpApiHosts({ name: `rr${k}` }), ...slowHostEnv() });
    else {
      const pid = startReflector(s, k, ns);
      if (pid) s.pids.push(pid);
    }
    saveState(s);
  }
  await ctl(s, ['apply', '-f', '-'], PEER_WITH_RRS);
  log(`==> ${n} tortie-rr (cluster id ${RR_CLUSTER_ID}) at ${Array.from({ length: n }, (_, i) => rrIp(i + 1)).join(', ')}; BGPPeer peer-with-route-reflectors applied`);
  await waitReflectors(s, n, log);
  await ctl(s, ['config', 'set', 'nodeToNodeMesh', 'off']);
  log('==> node-to-node mesh off: every node peers only with the reflectors');
}
