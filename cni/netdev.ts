// The pod's network plumbing through iproute2: a veth pair made inside the container netns with its
// peer sent to this process's netns (so it works whether the "host" is the root netns or a lab one).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CNI_CODES, CniError } from './errors.js';

export const GATEWAY_V4 = '169.254.1.1';
/** Calico gives host veths this MAC, so the IPv6 link-local gateway below is fixed. */
export const HOST_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new CniError(CNI_CODES.dataplaneFailure, `${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

const ip = (args: string[]): Promise<string> => sh('ip', args);
const inNs = (netns: string, args: string[]): Promise<string> => sh('nsenter', [`--net=${netns}`, 'ip', ...args]);

function writeSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new CniError(CNI_CODES.dataplaneFailure, `cannot write ${path}: ${(e as Error).message}`);
  }
}

/** A link exists in this process's netns: its per-netns /proc/sys entry does (no `ip` exec). */
export function linkExists(name: string): boolean {
  return existsSync(`/proc/sys/net/ipv4/conf/${name}`);
}

/** `ip -batch -` with the commands on stdin, in this netns or (netns set) inside the container's. */
function ipBatch(lines: string[], netns?: string): Promise<void> {
  const [cmd, args] = netns ? ['nsenter', [`--net=${netns}`, 'ip', '-batch', '-']] : ['ip', ['-batch', '-']];
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args as string[], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) reject(new CniError(CNI_CODES.dataplaneFailure, `ip${netns ? ` (in ${netns})` : ''}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    // ip may exit before reading (nsenter cannot enter the netns): its exit status reports that, not EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${lines.join('\n')}\n`);
  });
}

/** A random locally administered unicast MAC for the pod side, so ADD need not read it back. */
export function podMacAddress(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export interface PlumbArgs {
  netns: string;
  ifname: string;
  hostVeth: string;
  addresses: string[]; // "a.b.c.d/32", "x::y/128"
  mtu?: number;
}

/**
 * Builds everything in two `ip -batch` runs (one inside the container, one on the host): each `ip`
 * process costs milliseconds, and ADD latency is mostly process starts. On any failure the caller
 * calls unplumb(). Returns the pod-side MAC.
 */
export async function plumb(a: PlumbArgs): Promise<{ podMac: string }> {
  // A leftover host veth from an earlier, interrupted ADD of the same pod would block the name.
  if (linkExists(a.hostVeth)) await ip(['link', 'del', 'dev', a.hostVeth]);
  const mtu = a.mtu ? ` mtu ${a.mtu}` : '';
  const podMac = podMacAddress();
  const has4 = a.addresses.some((x) => !x.includes(':'));
  const has6 = a.addresses.some((x) => x.includes(':'));
  await ipBatch(
    [
      `link add ${a.ifname}${mtu} address ${podMac} type veth peer name ${a.hostVeth}${mtu} address ${HOST_MAC} netns ${process.pid}`,
      `link set dev ${a.ifname} up`,
      ...a.addresses.map((addr) => `addr add ${addr} dev ${a.ifname}${addr.includes(':') ? ' nodad' : ''}`),
      ...(has4 ? [`route replace ${GATEWAY_V4} dev ${a.ifname} scope link`, `route replace default via ${GATEWAY_V4} dev ${a.ifname} onlink`] : []),
      ...(has6 ? [`route replace ::/0 via ${GATEWAY_V6} dev ${a.ifname}`] : []),
    ],
    a.netns,
  );
  writeSysctl(`/proc/sys/net/ipv4/conf/${a.hostVeth}/proxy_arp`, '1');
  writeSysctl(`/proc/sys/net/ipv4/neigh/${a.hostVeth}/proxy_delay`, '0');
  writeSysctl(`/proc/sys/net/ipv4/conf/${a.hostVeth}/forwarding`, '1');
  if (has6) {
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/disable_ipv6`, '0');
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/proxy_ndp`, '1');
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/forwarding`, '1');
  }
  await ipBatch([`link set dev ${a.hostVeth} up`, ...a.addresses.map((addr) => `route replace ${addr} dev ${a.hostVeth} scope link`)]);
  return { podMac };
}

/**
 * Removes the host veth: its peer in the container and the routes through it go with it. Without
 * one, the container side is removed by name (a pair split by hand). A missing piece is not an error.
 */
export async function unplumb(hostVeth: string, netns?: string, ifname?: string): Promise<void> {
  if (linkExists(hostVeth)) await ip(['link', 'del', 'dev', hostVeth]).catch(() => undefined);
  else if (netns && ifname) await inNs(netns, ['link', 'del', 'dev', ifname]).catch(() => undefined);
}

/** CHECK: the pieces ADD made are there and as made. Throws naming the first thing wrong. */
export async function verify(a: PlumbArgs): Promise<void> {
  const fail = (m: string): never => {
    throw new CniError(CNI_CODES.checkFailed, m);
  };
  const host = await ip(['-j', 'link', 'show', 'dev', a.hostVeth]).catch(() => fail(`host interface ${a.hostVeth} is missing`));
  const hostLink = (JSON.parse(host) as { flags?: string[]; operstate?: string }[])[0];
  if (!hostLink?.flags?.includes('UP')) fail(`host interface ${a.hostVeth} is down`);
  let proxy = '';
  try {
    proxy = readFileSync(`/proc/sys/net/ipv4/conf/${a.hostVeth}/proxy_arp`, 'utf8').trim();
  } catch {
    /* reported below */
  }
  if (proxy !== '1') fail(`proxy_arp is not enabled on ${a.hostVeth}`);
  const pod = await inNs(a.netns, ['-j', 'addr', 'show', 'dev', a.ifname]).catch(() => fail(`container interface ${a.ifname} is missing in ${a.netns}`));
  const podLink = (JSON.parse(pod) as { flags?: string[]; addr_info?: { local: string; prefixlen: number }[] }[])[0];
  if (!podLink?.flags?.includes('UP')) fail(`container interface ${a.ifname} is down`);
  const have = new Set((podLink?.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`));
  for (const addr of a.addresses) {
    if (!have.has(addr)) fail(`container interface ${a.ifname} lacks address ${addr}`);
    const r = await ip([...(addr.includes(':') ? ['-6'] : []), '-j', 'route', 'show', addr.split('/')[0]]).catch(() => '[]');
    const routes = JSON.parse(r || '[]') as { dev?: string }[];
    if (!routes.some((x) => x.dev === a.hostVeth)) fail(`host route to ${addr} via ${a.hostVeth} is missing`);
  }
  if (a.addresses.some((x) => !x.includes(':'))) {
    const d = await inNs(a.netns, ['-j', 'route', 'show', 'default']).catch(() => '[]');
    const defaults = JSON.parse(d || '[]') as { gateway?: string; dev?: string }[];
    if (!defaults.some((x) => x.gateway === GATEWAY_V4 && x.dev === a.ifname)) fail(`container default route via ${GATEWAY_V4} on ${a.ifname} is missing`);
  }
}
