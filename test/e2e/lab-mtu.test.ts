// The MTU Calico computes, proven with real packets: a fabric with jumbo frames (9000) under VXLAN
// and a small one (1400) without encapsulation. tortie-node finds the host MTU on eth0 (Calico's
// mtuIfacePattern), takes the encapsulation's header off, sets it on vxlan.calico and writes it to
// the host's MTU file, and the CNI plugin (its config has no mtu) gives it to the pod's veth pair.
// A pod's largest unfragmented ping (DF set) to a pod on another host then gets through at exactly
// that MTU, and one byte more is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec.js';
import { eventually, testLab, type TestLab } from './lab-helpers.js';

const ICMP_AND_IP_HEADERS = 28;

interface Pod {
  name: string;
  node: string;
  ns: string;
  ip: string;
  iface: string;
}

const pods = (t: TestLab): Pod[] => (JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8')) as { pods: Pod[] }).pods;

/** ping -M do (DF set, never fragment locally) with an IP packet of exactly `packet` bytes. */
async function pingDf(from: Pod, to: Pod, packet: number): Promise<boolean> {
  try {
    await run('ip', ['netns', 'exec', from.ns, 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(packet - ICMP_AND_IP_HEADERS), to.ip]);
    return true;
  } catch {
    return false;
  }
}

const mtuOf = async (t: TestLab, ns: string, dev: string): Promise<number> => (JSON.parse(await t.exec(ns, ['ip', '-j', 'link', 'show', 'dev', dev])) as { mtu: number }[])[0].mtu;

function fabricCase(title: string, upArgs: string[], fabricMtu: number, podMtu: number, tunnel?: string): void {
  describe(title, () => {
    const t = testLab(tunnel ? 'mv' : 'mn');
    beforeAll(async () => {
      await t.lab(['up', '--nodes', '2', '--pods-per-node', '1', '--mtu', String(fabricMtu), ...upArgs]);
    }, 180_000);
    afterAll(async () => {
      await t.down();
    });

    it(`the fabric carries ${fabricMtu}-byte packets; the host's MTU file, the pods' veths${tunnel ? ` and ${tunnel}` : ''} hold ${podMtu}`, async () => {
      expect(await mtuOf(t, t.ns('node1'), 'eth0')).toBe(fabricMtu);
      // Host to host, unencapsulated: the fabric itself takes a full-size packet.
      await run('ip', ['netns', 'exec', t.ns('node1'), 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(fabricMtu - ICMP_AND_IP_HEADERS), '10.0.0.12']);
      for (const node of ['node1', 'node2']) {
        expect(readFileSync(join(t.stateDir, node, 'var-lib-calico', 'mtu'), 'utf8'), node).toBe(String(podMtu));
        if (tunnel) expect(await mtuOf(t, t.ns(node), tunnel), `${node} ${tunnel}`).toBe(podMtu);
      }
      for (const p of pods(t)) {
        expect(await mtuOf(t, p.ns, 'eth0'), `${p.name} eth0`).toBe(podMtu);
        expect(await mtuOf(t, t.ns(p.node), p.iface), `${p.name} ${p.iface}`).toBe(podMtu);
      }
    });

    it(`a pod's ${podMtu}-byte unfragmented ping reaches the pod on the other host, ${podMtu + 1} bytes do not`, async () => {
      const [a, b] = pods(t);
      expect(a.node).not.toBe(b.node);
      for (const [from, to] of [
        [a, b],
        [b, a],
      ]) {
        expect(await pingDf(from, to, podMtu), `${from.name} → ${to.name} at ${podMtu}`).toBe(true);
        expect(await pingDf(from, to, podMtu + 1), `${from.name} → ${to.name} at ${podMtu + 1}`).toBe(false);
      }
    });

    if (tunnel) {
      it(`FelixConfiguration vxlanMTU overrides the computed MTU, live: ${tunnel} and the MTU file follow, and a new pod gets it`, async () => {
        const doc = join(t.stateDir, 'felixconfig.yaml');
        writeFileSync(doc, 'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {vxlanMTU: 8000}\n');
        await t.lab(['ctl', 'apply', '-f', doc]);
        for (const node of ['node1', 'node2']) {
          await eventually(async () => ((await mtuOf(t, t.ns(node), tunnel)) === 8000 ? true : undefined));
          expect(readFileSync(join(t.stateDir, node, 'var-lib-calico', 'mtu'), 'utf8'), node).toBe('8000');
        }
        await t.lab(['pod', 'add', 'late', '--node', 'node1']);
        const late = pods(t).find((p) => p.name === 'late');
        expect(late && (await mtuOf(t, late.ns, 'eth0'))).toBe(8000);
      });
    }
  });
}

fabricCase('lab: jumbo-frame fabric (MTU 9000) with VXLAN', ['--encap', 'vxlan'], 9000, 9000 - 50, 'vxlan.calico');
fabricCase('lab: small fabric (MTU 1400) without encapsulation', [], 1400, 1400);
