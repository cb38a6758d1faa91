// A BGP lab: one "fabric" namespace holding a bridge, and N member namespaces each with a veth
// (eth0) into that bridge, addressed in IPv4 and IPv6 (nodad, so v6 is usable at once).
// Everything lives in namespaces made by NetnsSet; cleanup() removes them all (and every process in them).
import { NetnsSet } from './netns.js';

export interface LabMember {
  ns: string;
  /** Index in the lab, 1-based (address host part). */
  index: number;
  ipv4: string;
  ipv6: string;
}

export interface BgpLabOptions {
  /** Label folded into namespace names so concurrent test files never collide. */
  label?: string;
  members: number;
  /** IPv4 /24 prefix, default "10.77.0" → members get .1, .2, … */
  v4Base?: string;
  /** IPv6 /64 prefix, default "fd77::" → members get fd77::1, … */
  v6Base?: string;
}

export class BgpLab {
  readonly netns: NetnsSet;
  fabric = '';
  members: LabMember[] = [];

  private constructor(label: string) {
    this.netns = new NetnsSet(label);
  }

  static async create(opts: BgpLabOptions): Promise<BgpLab> {
    const lab = new BgpLab(opts.label ?? 'bl');
    try {
      await lab.build(opts);
    } catch (err) {
      await lab.cleanup();
      throw err;
    }
    return lab;
  }

  private async build(opts: BgpLabOptions): Promise<void> {
    const v4 = opts.v4Base ?? '10.77.0';
    const v6 = opts.v6Base ?? 'fd77::';
    this.fabric = await this.netns.add('fab');
    await this.netns.exec(this.fabric, ['ip', 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0']);
    await this.netns.exec(this.fabric, ['ip', 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= opts.members; i++) {
      const ns = await this.netns.add(`m${i}`);
      const member: LabMember = { ns, index: i, ipv4: `${v4}.${i}`, ipv6: `${v6}${i.toString(16)}` };
      await this.netns.veth(ns, 'eth0', `${member.ipv4}/24`, this.fabric, `p${i}`, undefined);
      await this.netns.exec(ns, ['ip', '-6', 'addr', 'add', `${member.ipv6}/64`, 'dev', 'eth0', 'nodad']);
      await this.netns.exec(this.fabric, ['ip', 'link', 'set', `p${i}`, 'master', 'br0']);
      this.members.push(member);
    }
  }

  /** Adds an extra IPv4 address to a member (e.g. a second speaker bound to its own address). */
  async addAddress(member: LabMember, cidr: string): Promise<void> {
    const args = cidr.includes(':') ? ['ip', '-6', 'addr', 'add', cidr, 'dev', 'eth0', 'nodad'] : ['ip', 'addr', 'add', cidr, 'dev', 'eth0'];
    await this.netns.exec(member.ns, args);
  }

  exec(member: LabMember, argv: string[]): Promise<{ stdout: string; stderr: string }> {
    return this.netns.exec(member.ns, argv);
  }

  /** Kills every process in the lab's namespaces and deletes them. Never throws. */
  async cleanup(): Promise<void> {
    await this.netns.cleanup();
  }
}
