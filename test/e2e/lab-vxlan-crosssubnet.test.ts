// 4 nodes on 2 subnets with VXLAN CrossSubnet: all pods reach each other, and a capture on the
// fabric sees UDP 4789 only between the subnets, never within one.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, stopCapture } from './capture.js';
import { testLab } from './lab-helpers.js';

const t = testLab('v');
const captures: ChildProcess[] = [];

describe('lab: 4 nodes, 2 subnets, VXLAN CrossSubnet', () => {
  beforeAll(async () => {
    await t.lab(['up', '--nodes', '4', '--subnets', '2', '--encap', 'vxlan', '--cross-subnet', '--pods-per-node', '1']);
  }, 300_000);
  afterAll(async () => {
    for (const p of captures) p.kill('SIGKILL');
    await t.down();
  });

  it('all pods reach each other, VXLAN only between subnets', async () => {
    // Every port of the fabric (hosts' and the router's): a bridge device itself sees only what it floods, not unicast it forwards.
    const caps = [capture(t.ns('fabric'), 'any', 'udp port 4789')];
    captures.push(...caps.map((c) => c.proc));
    await Promise.all(caps.map((c) => c.listening));
    const out = await t.lab(['ping']);
    expect(out).toMatch(/^12\/12 reachable$/m);
    await Promise.all(caps.map((c) => stopCapture(c.proc)));
    const lines = caps.flatMap((c) => c.lines).filter((l) => l.includes('.4789'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      const m = /IP (10\.0\.(\d)\.\d+)\.\d+ > (10\.0\.(\d)\.\d+)\.4789/.exec(l);
      expect(m, l).not.toBeNull();
      expect(m?.[2], l).not.toBe(m?.[4]);
    }
  });

  it('same-subnet blocks are routed directly, cross-subnet ones through vxlan.calico', async () => {
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; ip: string; blocks: string[] }> };
    const n1 = st.nodes.find((n) => n.name === 'node1');
    const n2 = st.nodes.find((n) => n.name === 'node2'); // same subnet as node1
    const n3 = st.nodes.find((n) => n.name === 'node3'); // the other subnet
    const r1 = await t.exec(t.ns('node1'), ['ip', 'route', 'show', 'proto', '80']);
    for (const b of n2?.blocks ?? []) expect(r1).toContain(`${b} via ${n2?.ip.split('/')[0]} dev eth0`);
    for (const b of n3?.blocks ?? []) expect(r1).toMatch(new RegExp(`^${b.replace(/\./g, '\\.')} via \\S+ dev vxlan\\.calico onlink`, 'm'));
    expect(n1?.blocks.length).toBeGreaterThan(0);
    const link = await t.exec(t.ns('node1'), ['ip', '-d', 'link', 'show', 'vxlan.calico']);
    expect(link).toMatch(/vxlan id 4096/);
    expect(link).toMatch(/dstport 4789/);
  });
});
