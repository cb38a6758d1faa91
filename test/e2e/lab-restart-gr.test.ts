// tortie-node as RFC 4724's restarting speaker, seen from a GoBGP 3 ToR peered with node2 through a
// node BGPPeer. A cold start advertises graceful restart with N only. After SIGKILL + restart (felix
// left the routes in the kernel) node2's new OPEN carries R and F for IPv4 unicast, it defers its
// selection until GoBGP's End-of-RIB, then sends its table and its own End-of-RIB: GoBGP, sampled
// every 200 ms through the whole restart, never loses one of node2's routes and ends with exactly
// the set it had before, none of them stale.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gobgp } from '../harness/gobgp.js';
import { eventually, testLab } from './lab-helpers.js';

const t = testLab('rg');
const TOR_IP = '10.0.0.250';
const TOR_AS = 65010;

/** The GR capability GoBGP received from a neighbour, from `gobgp -j neighbor ADDR` (remote_cap). */
interface GrSeen {
  flags: number;
  time: number;
  families: Array<{ afi: number; safi: number; flags: number }>;
}

/** Minimal protobuf reader for apipb.GracefulRestartCapability (flags=1, time=2, tuples=3 {family=1 {afi=1, safi=2}, flags=2}). */
function decodeGr(b: Buffer): GrSeen {
  const fields = (buf: Buffer): Array<[number, number | Buffer]> => {
    const out: Array<[number, number | Buffer]> = [];
    let i = 0;
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const byte = buf[i++] ?? 0;
        v += (byte & 0x7f) * mul;
        mul *= 128;
        if (byte < 0x80) return v;
      }
    };
    while (i < buf.length) {
      const key = varint();
      if ((key & 7) === 0) out.push([key >> 3, varint()]);
      else if ((key & 7) === 2) {
        const len = varint();
        out.push([key >> 3, buf.subarray(i, i + len)]);
        i += len;
      } else throw new Error(`unexpected wire type ${key & 7}`);
    }
    return out;
  };
  const num = (fs: Array<[number, number | Buffer]>, n: number): number => {
    const v = fs.find(([k]) => k === n)?.[1];
    return typeof v === 'number' ? v : 0;
  };
  const sub = (fs: Array<[number, number | Buffer]>, n: number): Buffer[] => fs.flatMap(([k, v]) => (k === n && Buffer.isBuffer(v) ? [v] : []));
  const top = fields(b);
  return {
    flags: num(top, 1),
    time: num(top, 2),
    families: sub(top, 3).map((tuple) => {
      const tf = fields(tuple);
      const fam = fields(sub(tf, 1)[0] ?? Buffer.alloc(0));
      return { afi: num(fam, 1), safi: num(fam, 2), flags: num(tf, 2) };
    }),
  };
}

describe('lab: tortie-node restarts as a graceful-restart speaker (R and F bits) toward a GoBGP ToR', () => {
  let gobgp: Gobgp | undefined;
  let dir = '';
  let node2 = '';

  const grFromNode2 = async (): Promise<GrSeen | undefined> => {
    const out = (await gobgp?.cli(['-j', 'neighbor', node2]))?.trim();
    if (!out) return undefined;
    const n = JSON.parse(out) as { state?: { session_state?: number | string; remote_cap?: Array<{ type_url?: string; value?: string }> } };
    const st = n.state?.session_state;
    if (st !== 6 && String(st).toLowerCase() !== 'established') return undefined;
    const cap = n.state?.remote_cap?.find((c) => c.type_url?.endsWith('GracefulRestartCapability'));
    return cap ? decodeGr(Buffer.from(cap.value ?? '', 'base64')) : undefined;
  };
  const ribPrefixes = async (): Promise<string[]> => Object.keys((await gobgp?.rib()) ?? {}).sort();
  const node2Log = (): string => {
    try {
      return readFileSync(join(t.stateDir, 'node2.log'), 'utf8');
    } catch {
      return '';
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-lab-rg-'));
    await t.lab(['up', '--nodes', '2', '--pods-per-node', '1']);
    const st = JSON.parse(await t.lab(['status', '-o', 'json'])) as { nodes: Array<{ name: string; ip: string }> };
    node2 = st.nodes.find((n) => n.name === 'node2')?.ip.split('/')[0] ?? '';
    await t.lab(['attach', 'tor', '--ip', `${TOR_IP}/24`]);
    gobgp = await Gobgp.start(
      t.ns('x-tor'),
      `[global.config]
  as = ${TOR_AS}
  router-id = "${TOR_IP}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${node2}"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    notification-enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`,
    );
    writeFileSync(join(dir, 'peer.yaml'), `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: tor-node2\nspec:\n  node: node2\n  peerIP: ${TOR_IP}\n  asNumber: ${TOR_AS}\n`);
    await t.lab(['ctl', 'apply', '-f', join(dir, 'peer.yaml')]);
  }, 300_000);

  afterAll(async () => {
    await gobgp?.stop();
    await t.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cold start: graceful restart advertised with N only (no R, no F)', async () => {
    const gr = await eventually(grFromNode2, 60_000);
    expect(gr.flags).toBe(0x4);
    expect(gr.time).toBe(120);
    expect(gr.families.find((f) => f.afi === 1 && f.safi === 1)?.flags).toBe(0);
    expect(node2Log()).toMatch(/cold start/);
  });

  it('SIGKILL + restart: R and F in the new OPEN, End-of-RIB after deferral, 0 routes lost at GoBGP', async () => {
    // node2's own block and node1's (passed on over eBGP): two /26s.
    const before = await eventually(async () => {
      const p = await ribPrefixes();
      return p.length >= 2 ? p : undefined;
    }, 60_000);

    let sampling = true;
    const samples: string[][] = [];
    const sampler = (async () => {
      while (sampling) {
        samples.push(await ribPrefixes().catch(() => ['<gobgp unreachable>']));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await t.lab(['node', 'kill', 'node2']);
      // GoBGP sees the session go (TCP closed) and keeps node2's routes as stale meanwhile.
      await eventually(async () => ((await grFromNode2()) ? undefined : true), 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      await t.lab(['node', 'start', 'node2']);

      const gr = await eventually(grFromNode2, 60_000);
      expect(gr.flags & 0x8, 'R bit').toBe(0x8);
      expect(gr.flags & 0x4, 'N bit').toBe(0x4);
      expect(gr.families.find((f) => f.afi === 1 && f.safi === 1)?.flags, 'F bit for IPv4 unicast').toBe(0x80);
      // The lab has no IPv6 routes, so no IPv6 forwarding state was kept: F stays clear there.
      expect(gr.families.find((f) => f.afi === 2 && f.safi === 1)?.flags ?? 0).toBe(0);

      // Restart done at GoBGP: node2's End-of-RIB came and no path from it is stale any more.
      await eventually(async () => {
        const rib = (await gobgp?.rib()) ?? {};
        const paths = Object.values(rib).flat();
        return paths.length > 0 && paths.every((p) => !(p as { stale?: boolean }).stale) && /graceful restart: running route selection/.test(node2Log()) ? true : undefined;
      }, 150_000);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      sampling = false;
      await sampler;
    }
    const log = node2Log();
    expect(log).toMatch(/restarting with forwarding state kept/);
    expect(log).toMatch(/End-of-RIB received from all peers|deferral timer expired/);
    expect(samples.length).toBeGreaterThan(5);
    const lost = samples.filter((s) => before.some((p) => !s.includes(p)));
    expect(lost, `samples missing one of ${before.join(', ')}`).toEqual([]);
    expect(await ribPrefixes()).toEqual(before);
  });
});
