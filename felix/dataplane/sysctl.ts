// Kernel knobs felix owns: forwarding on (IPv6 too once there is an IPv6 pool), and on each workload interface proxy ARP (pods use
// 169.254.1.1 as gateway) with strict-off reverse-path filtering.
import { writeFile } from 'node:fs/promises';

async function set(path: string, value: string, absentOk = false): Promise<string | undefined> {
  try {
    await writeFile(path, value);
    return undefined;
  } catch (e) {
    if (absentOk && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `${path}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export async function applySysctls(workloadIfaces: readonly string[], ipv6 = false): Promise<string[]> {
  const errs: Array<string | undefined> = [await set('/proc/sys/net/ipv4/ip_forward', '1')];
  // IPv6 pods route through the host too; a host with IPv6 disabled simply has no such file.
  if (ipv6) errs.push(await set('/proc/sys/net/ipv6/conf/all/forwarding', '1'));
  for (const i of workloadIfaces) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(i)) continue; // never build a path from a strange name
    // An interface not there yet is no error: on the Kubernetes datastore a Pod is an endpoint from
    // the moment it is bound, before the CNI plugin makes its veth; the plugin's write of the
    // endpoint's addresses, once the veth exists, brings the next apply that configures it.
    errs.push(await set(`/proc/sys/net/ipv4/conf/${i}/proxy_arp`, '1', true));
    errs.push(await set(`/proc/sys/net/ipv4/conf/${i}/rp_filter`, '1', true));
    errs.push(await set(`/proc/sys/net/ipv4/neigh/${i}/proxy_delay`, '0', true));
  }
  return errs.filter((e): e is string => e !== undefined);
}
