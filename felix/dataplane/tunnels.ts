// Tunnel devices: vxlan.calico (VNI 4096, UDP 4789) with static ARP + FDB entries for remote VTEPs,
// its IPv6 twin vxlan-v6.calico (static NDP entries, FDB towards node IPv6 addresses), and tunl0
// for IPIP. Idempotent: each call converges the devices to the desired state.
import { IPIP_DEVICE, VXLAN_DEVICE, VXLAN_V6_DEVICE, type VtepInfo, type VxlanTunnel, type DesiredState } from '../calc/types.js';
import { tool } from './exec.js';

interface IpLink {
  ifname: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; local?: string; local6?: string } };
}

async function getLink(name: string): Promise<IpLink | undefined> {
  try {
    const out = JSON.parse(await tool('ip', ['-d', '-j', 'link', 'show', 'dev', name])) as IpLink[];
    return out[0];
  } catch {
    return undefined;
  }
}

/** Converges one VTEP device: `vxlan.calico` for IPv4 (the default), `vxlan-v6.calico` for IPv6. */
export async function ensureVxlan(want: VxlanTunnel | undefined, vteps: readonly VtepInfo[], family: 4 | 6 = 4): Promise<void> {
  const dev = family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE;
  const have = await getLink(dev);
  if (!want) {
    if (have) await tool('ip', ['link', 'del', dev]);
    return;
  }
  const info = have?.linkinfo?.info_data;
  const stale = have && (have.linkinfo?.info_kind !== 'vxlan' || info?.id !== want.vni || info?.port !== want.port || (want.parentAddr && (info?.local ?? info?.local6) !== want.parentAddr));
  if (stale) await tool('ip', ['link', 'del', dev]);
  if (!have || stale) {
    const args = ['link', 'add', dev, 'type', 'vxlan', 'id', String(want.vni), 'dstport', String(want.port), 'nolearning'];
    if (want.parentAddr) args.push('local', want.parentAddr);
    await tool('ip', args);
  }
  const set = ['link', 'set', 'dev', dev, 'address', want.mac];
  if (want.mtu) set.push('mtu', String(want.mtu));
  await tool('ip', [...set, 'up']);
  // nodad: the tunnel address is ours alone (IPAM), and a tentative address could not be routed from.
  await tool('ip', ['addr', 'replace', `${want.address}/${family === 4 ? 32 : 128}`, 'dev', dev, ...(family === 6 ? ['nodad'] : [])]);
  await syncVteps(dev, vteps);
}

interface NeighJson {
  dst?: string;
  lladdr?: string;
  mac?: string;
  state?: string[];
}

async function syncVteps(dev: string, vteps: readonly VtepInfo[]): Promise<void> {
  const wantArp = new Map(vteps.map((v) => [v.tunnelAddr, v.mac]));
  const wantFdb = new Map(vteps.map((v) => [v.mac, v.nodeAddr]));
  const neigh = JSON.parse((await tool('ip', ['-j', 'neigh', 'show', 'dev', dev])) || '[]') as NeighJson[];
  for (const n of neigh) {
    if (n.dst && n.state?.includes('PERMANENT') && wantArp.get(n.dst) !== n.lladdr) await tool('ip', ['neigh', 'del', n.dst, 'dev', dev]).catch(() => undefined);
  }
  const fdb = JSON.parse((await tool('bridge', ['-j', 'fdb', 'show', 'dev', dev])) || '[]') as NeighJson[];
  for (const f of fdb) {
    if (f.mac && f.dst && f.mac !== '00:00:00:00:00:00' && wantFdb.get(f.mac) !== f.dst) {
      await tool('bridge', ['fdb', 'del', f.mac, 'dev', dev, 'dst', f.dst]).catch(() => undefined);
    }
  }
  for (const v of vteps) {
    await tool('ip', ['neigh', 'replace', v.tunnelAddr, 'lladdr', v.mac, 'dev', dev, 'nud', 'permanent']);
    await tool('bridge', ['fdb', 'replace', v.mac, 'dev', dev, 'dst', v.nodeAddr, 'self', 'permanent']);
  }
}

export async function ensureIpip(want: DesiredState['ipipTunnel']): Promise<void> {
  if (!want) return; // tunl0 belongs to the ipip module; we never delete it
  if (!(await getLink(IPIP_DEVICE))) {
    // Loading the module creates tunl0; `ip tunnel add` does too on kernels with it built in.
    await tool('modprobe', ['ipip']).catch(() => undefined);
    if (!(await getLink(IPIP_DEVICE))) await tool('ip', ['tunnel', 'add', IPIP_DEVICE, 'mode', 'ipip']);
  }
  if (want.mtu) await tool('ip', ['link', 'set', 'dev', IPIP_DEVICE, 'mtu', String(want.mtu)]);
  await tool('ip', ['link', 'set', 'dev', IPIP_DEVICE, 'up']);
  await tool('ip', ['addr', 'replace', `${want.address}/32`, 'dev', IPIP_DEVICE]);
}
