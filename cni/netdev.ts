// The pod's network plumbing through iproute2: a veth pair made inside the container netns with its
// peer sent to this process's netns (so it works whether the "host" is the root netns or a lab one).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

export async function linkExists(name: string): Promise<boolean> {
  return ip(['link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

export interface PlumbArgs {
  netns: string;
  ifname: string;
  hostVeth: string;
  addresses: string[]; // "a.b.c.d/32", "x::y/128"
  mtu?: number;
}

/** Builds everything; on any failure the caller calls unplumb(). Returns the pod-side MAC. */
export async function plumb(a: PlumbArgs): Promise<{ podMac: string }> {
  // A leftover host veth from an earlier, interrupted ADD of the same pod would block the name.
  if (await linkExists(a.hostVeth)) await ip(['link', 'del', 'dev', a.hostVeth]);
  const mtu = a.mtu ? ['mtu', String(a.mtu)] : [];
  await inNs(a.netns, ['link', 'add', a.ifname, ...mtu, 'type', 'veth', 'peer', 'name', a.hostVeth, ...mtu, 'netns', String(process.pid)]);
  await ip(['link', 'set', 'dev', a.hostVeth, 'address', HOST_MAC]);
  const has6 = a.addresses.some((x) => x.includes(':'));
  writeSysctl(`/proc/sys/net/ipv4/conf/${a.hostVeth}/proxy_arp`, '1');
  writeSysctl(`/proc/sys/net/ipv4/neigh/${a.hostVeth}/proxy_delay`, '0');
  writeSysctl(`/proc/sys/net/ipv4/conf/${a.hostVeth}/forwarding`, '1');
  if (has6) {
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/disable_ipv6`, '0');
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/proxy_ndp`, '1');
    writeSysctl(`/proc/sys/net/ipv6/conf/${a.hostVeth}/forwarding`, '1');
  }
  await ip(['link', 'set', 'dev', a.hostVeth, 'up']);
  await inNs(a.netns, ['link', 'set', 'dev', a.ifname, 'up']);
  for (const addr of a.addresses) await inNs(a.netns, ['addr', 'add', addr, 'dev', a.ifname, ...(addr.includes(':') ? ['nodad'] : [])]);
  if (a.addresses.some((x) => !x.includes(':'))) {
    await inNs(a.netns, ['route', 'replace', GATEWAY_V4, 'dev', a.ifname, 'scope', 'link']);
    await inNs(a.netns, ['route', 'replace', 'default', 'via', GATEWAY_V4, 'dev', a.ifname, 'onlink']);
  }
  if (has6) await inNs(a.netns, ['-6', 'route', 'replace', 'default', 'via', GATEWAY_V6, 'dev', a.ifname]);
  for (const addr of a.addresses) await ip([...(addr.includes(':') ? ['-6'] : []), 'route', 'replace', addr, 'dev', a.hostVeth, 'scope', 'link']);
  const mac = (await inNs(a.netns, ['-j', 'link', 'show', 'dev', a.ifname]).then((o) => (JSON.parse(o) as { address?: string }[])[0]?.address)) ?? '';
  return { podMac: mac };
}

/** Removes the host veth (its peer goes with it) and its routes; a missing piece is not an error. */
export async function unplumb(hostVeth: string, addresses: string[], netns?: string, ifname?: string): Promise<void> {
  for (const addr of addresses) await ip([...(addr.includes(':') ? ['-6'] : []), 'route', 'del', addr, 'dev', hostVeth]).catch(() => undefined);
  if (await linkExists(hostVeth)) await ip(['link', 'del', 'dev', hostVeth]).catch(() => undefined);
  if (netns && ifname) await inNs(netns, ['link', 'del', 'dev', ifname]).catch(() => undefined);
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
