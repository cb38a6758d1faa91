// Tunnel devices: vxlan.calico (VNI 4096, UDP 4789) with static ARP + FDB entries for remote VTEPs,
// and tunl0 for IPIP. Idempotent: each call converges the devices to the desired state.
import { IPIP_DEVICE, VXLAN_DEVICE, type DesiredState, type VtepInfo } from '../calc/types.js';
import { tool } from './exec.js';

interface IpLink {
  ifname: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; local?: string } };
}

async function getLink(name: string): Promise<IpLink | undefined> {
  try {
    const out = JSON.parse(await tool('ip', ['-d', '-j', 'link', 'show', 'dev', name])) as IpLink[];
    return out[0];
  } catch {
    return undefined;
  }
}

export async function ensureVxlan(want: DesiredState['vxlanTunnel'], vteps: readonly VtepInfo[]): Promise<void> {
  const have = await getLink(VXLAN_DEVICE);
  if (!want) {
    if (have) await tool('ip', ['link', 'del', VXLAN_DEVICE]);
    return;
  }
  const info = have?.linkinfo?.info_data;
  const stale = have && (have.linkinfo?.info_kind !== 'vxlan' || info?.id !== want.vni || info?.port !== want.port || (want.parentAddr && info?.local !== want.parentAddr));
  if (stale) await tool('ip', ['link', 'del', VXLAN_DEVICE]);
  if (!have || stale) {
    const args = ['link', 'add', VXLAN_DEVICE, 'type', 'vxlan', 'id', String(want.vni), 'dstport', String(want.port), 'nolearning'];
    if (want.parentAddr) args.push('local', want.parentAddr);
    await tool('ip', args);
  }
  const set = ['link', 'set', 'dev', VXLAN_DEVICE, 'address', want.mac];
  if (want.mtu) set.push('mtu', String(want.mtu));
  await tool('ip', [...set, 'up']);
  await tool('ip', ['addr', 'replace', `${want.address}/32`, 'dev', VXLAN_DEVICE]);
  await syncVteps(vteps);
}

interface NeighJson {
  dst?: string;
  lladdr?: string;
  mac?: string;
  state?: string[];
}

async function syncVteps(vteps: readonly VtepInfo[]): Promise<void> {
  const wantArp = new Map(vteps.map((v) => [v.tunnelAddr, v.mac]));
  const wantFdb = new Map(vteps.map((v) => [v.mac, v.nodeAddr]));
  const neigh = JSON.parse((await tool('ip', ['-j', 'neigh', 'show', 'dev', VXLAN_DEVICE])) || '[]') as NeighJson[];
  for (const n of neigh) {
    if (n.dst && n.state?.includes('PERMANENT') && wantArp.get(n.dst) !== n.lladdr) await tool('ip', ['neigh', 'del', n.dst, 'dev', VXLAN_DEVICE]).catch(() => undefined);
  }
  const fdb = JSON.parse((await tool('bridge', ['-j', 'fdb', 'show', 'dev', VXLAN_DEVICE])) || '[]') as NeighJson[];
  for (const f of fdb) {
    if (f.mac && f.dst && f.mac !== '00:00:00:00:00:00' && wantFdb.get(f.mac) !== f.dst) {
      await tool('bridge', ['fdb', 'del', f.mac, 'dev', VXLAN_DEVICE, 'dst', f.dst]).catch(() => undefined);
    }
  }
  for (const v of vteps) {
    await tool('ip', ['neigh', 'replace', v.tunnelAddr, 'lladdr', v.mac, 'dev', VXLAN_DEVICE, 'nud', 'permanent']);
    await tool('bridge', ['fdb', 'replace', v.mac, 'dev', VXLAN_DEVICE, 'dst', v.nodeAddr, 'self', 'permanent']);
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
