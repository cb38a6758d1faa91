// The lab from the images on the Kubernetes datastore (`tortie-lab up --containers --datastore
// kubernetes --rr 2`): manifests/tortie.yaml applied as a user applies it, then tortie-node
// (install-cni first), tortie-controllers and the reflectors run from their images as the manifests
// say, each with its own ServiceAccount's token where a kubelet mounts it. Proved on real packets and
// on the apiserver's audit log: every pod reaches every other through the reflectors; every request
// a lab host made came from a Tortie ServiceAccount, never the admin; a verb a component was not
// granted is refused with its own token; a NetworkPolicy applied with kubectl is enforced; a
// tortie-node container restarted under continuous ping loses no packet; and `kubectl delete node`
// makes the controllers container release the node's blocks, as tortie-kube-controllers.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec.js';
import { eventually, testLab } from './lab-helpers.js';
import { ctl, labInfo, ping, verdicts, type Pod, type Probe } from './policy-helpers.js';

const t = testLab('ck');
const SA = 'system:serviceaccount:kube-system:';

interface AuditEvent {
  user: { username: string };
  verb: string;
  sourceIPs?: string[];
  objectRef?: { resource?: string; subresource?: string; name?: string };
  responseStatus?: { code?: number };
}

const containers = async (): Promise<string[]> =>
  (await run('podman', ['ps', '--format', '{{.Names}} {{.Image}}'])).stdout
    .split('\n')
    .filter((l) => l.startsWith(t.prefix))
    .map((l) => l.slice(t.prefix.length))
    .sort();

const audit = (): AuditEvent[] =>
  readFileSync(join(t.stateDir, 'kube', 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEvent);
const resource = (e: AuditEvent): string => `${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
/** "user verb resource" of every request from `ips`, deduplicated. */
const requestsFrom = (ips: readonly string[]): string[] => [...new Set(audit().filter((e) => e.sourceIPs?.some((ip) => ips.includes(ip))).map((e) => `${e.user.username} ${e.verb} ${resource(e)}`))].sort();

/** kubectl in the apiserver's namespace with the token a container was given (the file mounted in it). */
async function asPod(pod: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const state = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { kube: { binDir: string; server: string } };
  const dir = join(t.stateDir, 'serviceaccounts', pod);
  const argv = ['netns', 'exec', t.ns('etcd'), join(state.kube.binDir, 'kubectl'), '--server', state.kube.server, '--certificate-authority', join(dir, 'ca.crt'), '--token', readFileSync(join(dir, 'token'), 'utf8'), ...args];
  return run('ip', argv).then(
    (r) => ({ ok: true, out: r.stdout }),
    (e: unknown) => ({ ok: false, out: e instanceof Error ? e.message : String(e) }),
  );
}

const HOSTS = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];
const REFLECTORS = ['10.0.0.201', '10.0.0.202'];
let pods: Pod[] = [];
const pod = (name: string): Pod => {
  const p = pods.find((x) => x.name === name);
  if (!p) throw new Error(`no pod ${name}`);
  return p;
};

describe('lab: --containers --datastore kubernetes, from the images, tortie.yaml and ServiceAccount tokens', () => {
  beforeAll(async () => {
    await t.lab(['up', '--containers', '--datastore', 'kubernetes', '--nodes', '3', '--pods-per-node', '1', '--rr', '2']);
    pods = labInfo(t).pods;
  }, 900_000);
  afterAll(async () => {
    await t.down();
    expect(await containers()).toEqual([]);
  }, 120_000);

  it('runs tortie-controllers, tortie-node and tortie-rr as containers, and every pod reaches every other through the reflectors', async () => {
    expect(await containers()).toEqual([
      'controllers localhost/tortie/controllers:0.1.0',
      'node1 localhost/tortie/node:0.1.0',
      'node2 localhost/tortie/node:0.1.0',
      'node3 localhost/tortie/node:0.1.0',
      'rr1 localhost/tortie/rr:0.1.0',
      'rr2 localhost/tortie/rr:0.1.0',
    ]);
    expect(await t.lab(['ping'])).toMatch(/^6\/6 reachable$/m);
    // tortie.yaml as applied: its CRDs, accounts and workloads are in the API.
    expect(await t.lab(['kubectl', 'get', 'crd', 'ippools.crd.projectcalico.org', '-o', 'name'])).toMatch(/ippools/);
    expect(await t.lab(['kubectl', 'get', 'serviceaccounts', '-n', 'kube-system', '-o', 'name'])).toMatch(/tortie-node[\s\S]*tortie-rr/);
  });

  it('install-cni left the plugins, the conflist and the CNI plugin\'s own kubeconfig on each host', () => {
    for (const n of ['node1', 'node2', 'node3']) {
      expect(readdirSync(join(t.stateDir, n, 'opt-cni-bin')).sort()).toEqual(['portmap', 'tortie', 'tortie-ipam']);
      expect(readdirSync(join(t.stateDir, n, 'etc-cni-net.d')).sort()).toEqual(['10-tortie.conflist', 'tortie-kubeconfig']);
    }
  });

  it("each container has its own ServiceAccount's token where a kubelet mounts it, and not the lab's admin credentials", async () => {
    const inside = async (c: string, cmd: string): Promise<string> => (await run('podman', ['exec', `${t.prefix}${c}`, 'sh', '-c', cmd])).stdout.trim();
    for (const c of ['node1', 'rr1', 'controllers']) {
      expect(await inside(c, 'ls /var/run/secrets/kubernetes.io/serviceaccount'), c).toBe('ca.crt\nnamespace\ntoken');
      expect(await inside(c, `ls -A ${t.stateDir}/kube 2>/dev/null; env | grep -c '^KUBECONFIG=' || true`), c).toBe('0');
    }
    const account = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string }).sub;
    expect(account(await inside('node1', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'))).toBe(`${SA}tortie-node`);
    expect(account(await inside('controllers', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'))).toBe(`${SA}tortie-kube-controllers`);
    expect(account(await inside('rr1', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'))).toBe(`${SA}tortie-rr`);
    // The CNI plugin's kubeconfig, written by install-cni from a TokenRequest for its own account.
    const kubeconfig = readFileSync(join(t.stateDir, 'node1', 'etc-cni-net.d', 'tortie-kubeconfig'), 'utf8');
    expect(account(/token: (\S+)/.exec(kubeconfig)?.[1] ?? '')).toBe(`${SA}tortie-cni-plugin`);
  });

  it('every request from the hosts and reflectors was made as a Tortie ServiceAccount (audit log), none as the admin', () => {
    const hosts = requestsFrom(HOSTS);
    expect(hosts.filter((r) => !r.startsWith(`${SA}tortie-node `) && !r.startsWith(`${SA}tortie-cni-plugin `))).toEqual([]);
    // tortie-node writes its Node's Calico fields and claims blocks; install-cni asks for the plugin's token;
    // the CNI plugin reads its pod with the token install-cni wrote into its kubeconfig.
    expect(hosts).toEqual(expect.arrayContaining([`${SA}tortie-node update nodes/status`, `${SA}tortie-node create ipamblocks`, `${SA}tortie-node create serviceaccounts/token`, `${SA}tortie-cni-plugin get pods`]));
    const rrs = requestsFrom(REFLECTORS);
    expect(rrs.filter((r) => !r.startsWith(`${SA}tortie-rr `))).toEqual([]);
    expect(rrs).toContain(`${SA}tortie-rr update nodes/status`);
  });

  it('a verb a component was not granted is refused with its own token', async () => {
    const refused = async (podName: string, args: string[]): Promise<string> => {
      const r = await asPod(podName, args);
      expect(r.ok, `${podName}: ${args.join(' ')} was allowed`).toBe(false);
      return r.out;
    };
    expect(await asPod('node1-tortie-node', ['get', 'nodes', '-o', 'name'])).toMatchObject({ ok: true });
    expect(await refused('node1-tortie-node', ['delete', 'networkpolicy', 'any', '-n', 'default'])).toMatch(/Forbidden.*tortie-node.*cannot delete resource "networkpolicies"/);
    expect(await refused('node1-tortie-node', ['get', 'secrets', '-A'])).toMatch(/Forbidden.*tortie-node.*cannot list resource "secrets"/);
    expect(await refused('controllers', ['get', 'networkpolicies', '-A'])).toMatch(/Forbidden.*tortie-kube-controllers.*cannot list resource "networkpolicies"/);
    expect(await refused('controllers', ['delete', 'node', 'node1'])).toMatch(/Forbidden.*tortie-kube-controllers.*cannot delete resource "nodes"/);
    expect(await refused('rr1', ['delete', 'ipamblocks.crd.projectcalico.org', '--all'])).toMatch(/Forbidden.*tortie-rr.*cannot (list|delete)/);
  });

  it('a NetworkPolicy applied with kubectl is enforced, and deleting it opens the pods again', async () => {
    const into = (want: boolean): Probe[] => [
      { label: 'pod-node1-1 → pod-node2-1', want, probe: () => ping(pod('pod-node1-1').ns, pod('pod-node2-1').ip) },
      { label: 'pod-node3-1 → pod-node2-1', want, probe: () => ping(pod('pod-node3-1').ns, pod('pod-node2-1').ip) },
    ];
    expect(await verdicts(into(true))).toEqual([]);
    // Kubernetes' default-deny for ingress, in the pods' namespace.
    const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny-ingress', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
    const file = join(t.stateDir, 'deny.json');
    writeFileSync(file, JSON.stringify(deny));
    expect(await t.lab(['kubectl', 'apply', '-f', file])).toMatch(/default-deny-ingress created/);
    expect(await verdicts(into(false), 60_000)).toEqual([]);
    await t.lab(['kubectl', 'delete', 'networkpolicy', 'default-deny-ingress', '-n', 'default']);
    expect(await verdicts(into(true), 60_000)).toEqual([]);
  }, 180_000);

  it('a tortie-node container SIGKILLed and started again under continuous ping loses 0 packets', async () => {
    const pinger = t.lab(['exec', 'pod-node1-1', '--', 'ping', '-i', '0.2', '-w', '25', '-q', pod('pod-node2-1').ip]);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await t.lab(['node', 'kill', 'node2'])).toMatch(/SIGKILL sent to the tortie-node container/);
    await new Promise((r) => setTimeout(r, 1000));
    await t.lab(['node', 'start', 'node2']);
    await eventually(async () => {
      const s = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; ready?: string }> };
      return s.nodes.find((n) => n.name === 'node2')?.ready === 'ready' ? true : undefined;
    }, 120_000);
    const out = await pinger;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(50);
    expect(m?.[2], out).toBe(m?.[1]);
  }, 180_000);

  it("kubectl delete node: the controllers container releases the node's blocks, as tortie-kube-controllers", async () => {
    const affinities = async (): Promise<string> => ctl(t, ['get', 'blockaffinities']);
    expect(await affinities()).toMatch(/^node3-/m);
    // Only node3's affinities, from the delete on: before it, a node that lost a race for a block
    // rightly deletes its own pending affinity (as Calico's IPAM does).
    const seenBefore = audit().length;
    await t.lab(['node', 'del', 'node3']);
    await eventually(async () => (/^node3-/m.test(await affinities()) ? undefined : true), 120_000);
    const releases = audit()
      .slice(seenBefore)
      .filter((e) => e.verb === 'delete' && resource(e) === 'blockaffinities' && e.responseStatus?.code === 200 && e.objectRef?.name?.startsWith('node3-'));
    const by = releases.map((e) => `${e.user.username} ${e.objectRef?.name ?? ''}`);
    expect(by, 'who released node3\'s affinities').toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${SA}tortie-kube-controllers `))]));
    expect(by.filter((x) => !x.startsWith(`${SA}tortie-kube-controllers `)), 'node3\'s affinities released by anyone but the controllers').toEqual([]);
    pods = labInfo(t).pods;
    expect(await t.lab(['ping'])).toMatch(/^2\/2 reachable$/m);
  }, 180_000);
});
