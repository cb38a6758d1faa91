// Memory per route of our speaker as a route reflector (bgp/speaker over bgp/rib) over real TCP sessions on
// loopback: one client sends N /32s, R other clients receive them reflected, then one more client
// joins late (an initial sync). Two tables, measured in the same run:
//   - shared: 8 attribute sets packed many prefixes per UPDATE (the fan-in shape);
//   - unique: every route its own MED, so every attribute set carries one prefix (a real full
//     table has many distinct MED / community / AS-path sets) — per-attribute-set caches cost
//     per route here.
// Bytes per route = (V8 heap used + ArrayBuffer memory) after GC with the routes reflected,
// minus the same with the sessions up and empty. The ratio column is unique / shared.
//
//   node --expose-gc --import tsx bench/rr-unique-attrs.ts [--routes 100000] [--receivers 2] [--host 127.0.0.61]
//       [--heap-snapshot FILE]
import { connect, type Socket } from 'node:net';
import { writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { encodeMessage, makeOpen, packUpdates, type CodecContext } from '../bgp/codec/index.js';
import { Speaker } from '../bgp/speaker/index.js';
import type { PathAttributes, Prefix } from '../bgp/types.js';
import { freePort } from '../test/harness/ports.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('--routes', '100000'));
const RECEIVERS = Number(opt('--receivers', '2'));
const HOST = opt('--host', '127.0.0.61');
/** Write heap snapshots FILE.shared and FILE.unique with the routes held (for a per-type breakdown). */
const SNAPSHOT = opt('--heap-snapshot', '');
const base = HOST.split('.').map(Number);
const addr = (k: number): string => `${base[0]}.${base[1]}.${base[2]}.${base[3] + k}`;
const AS = 64512;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/rr-unique-attrs.ts');
  process.exit(2);
}
function mem(): number {
  for (let k = 0; k < 4; k++) gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (what: string, ok: () => boolean, ms = 600_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
};

const prefixAt = (n: number): Prefix => ({ family: 4, address: `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, length: 32 });
function attrsOf(i: number, unique: boolean, nextHop: string): PathAttributes {
  const k = unique ? i : i & 7;
  return { origin: 0, asPath: [], nextHop, localPref: 100, med: k, communities: [AS * 65536 + (k & 0xffff)] };
}
function frames(unique: boolean, nextHop: string): Buffer[] {
  const ctx: CodecContext = { fourOctetAs: true };
  if (!unique) {
    const groups = Array.from({ length: 8 }, (_, k) => ({ attributes: attrsOf(k, false, nextHop), prefixes: [] as Prefix[] }));
    for (let i = 0; i < N; i++) groups[i & 7].prefixes.push(prefixAt(i));
    return packUpdates(groups, [], ctx);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < N; i++) out.push(...packUpdates([{ attributes: attrsOf(i, true, nextHop), prefixes: [prefixAt(i)] }], [], ctx));
  return out;
}

interface Client {
  sock: Socket;
  received: number;
}
async function client(speaker: Speaker, port: number, self: string): Promise<Client> {
  const c: Client = { sock: connect({ host: HOST, port, localAddress: self }), received: 0 };
  c.sock.on('data', (d: Buffer) => void (c.received += d.length));
  await new Promise<void>((r, j) => c.sock.once('connect', () => r()).once('error', j));
  const ctx: CodecContext = { fourOctetAs: false };
  c.sock.write(encodeMessage(makeOpen({ asn: AS, holdTime: 0, bgpId: self, capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 65, asn: AS }] }), ctx));
  c.sock.write(encodeMessage({ type: 'KEEPALIVE' }, ctx));
  await until(`session ${self}`, () => speaker.peerStatus().find((p) => p.address === self)?.state === 'Established');
  return c;
}
/** Until no client received anything for 1 s (the reflector has sent everything). */
async function quiet(cs: Client[]): Promise<void> {
  let last = -1;
  for (;;) {
    const now = cs.reduce((s, c) => s + c.received, 0);
    if (now === last) return;
    last = now;
    await sleep(1000);
  }
}

interface Result {
  bytes: number;
  rssMb: number;
  ingestCpu: number;
  syncCpu: number;
}
async function run(unique: boolean): Promise<Result> {
  const port = await freePort(HOST);
  const s = new Speaker({ asNumber: AS, routerId: HOST, listenPort: port, listenAddresses: [HOST], families: [4], holdTime: 0 }, { onRoute: () => undefined }, pino({ level: 'silent' }));
  const peers = Array.from({ length: RECEIVERS + 2 }, (_, k) => ({ address: addr(k + 1), asNumber: AS, type: 'global' as const, passive: true, rrClient: true }));
  await s.start(peers);
  const cs: Client[] = [];
  try {
    for (let k = 1; k <= RECEIVERS + 1; k++) cs.push(await client(s, port, addr(k)));
    let fs: Buffer[] | undefined = frames(unique, addr(1));
    await quiet(cs);
    const m0 = mem();
    const c0 = process.cpuUsage();
    for (const f of fs) cs[0].sock.write(f);
    fs = undefined;
    await until('routes learned', () => s.peerStatus().find((p) => p.address === addr(1))?.prefixesAccepted === N);
    await quiet(cs);
    const c1 = process.cpuUsage(c0);
    const late = await client(s, port, addr(RECEIVERS + 2));
    const c2 = process.cpuUsage();
    await quiet([late]);
    const c3 = process.cpuUsage(c2);
    cs.push(late);
    const bytes = (mem() - m0) / N;
    if (SNAPSHOT) writeHeapSnapshot(`${SNAPSHOT}.${unique ? "unique" : "shared"}`);
    if (s.bestPaths().length !== N) throw new Error(`Loc-RIB has ${s.bestPaths().length} routes, expected ${N}`);
    return { bytes, rssMb: process.memoryUsage().rss / 2 ** 20, ingestCpu: (c1.user + c1.system) / 1e6, syncCpu: (c3.user + c3.system) / 1e6 };
  } finally {
    for (const c of cs) c.sock.destroy();
    await s.stop();
  }
}

const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`node ${process.version}, ${new Date().toISOString()}, ${N} routes, ${RECEIVERS} receivers + 1 late joiner`);
const shared = await run(false);
const unique = await run(true);
console.log('table     B/route   RSS MB   ingest+reflect CPU s   late sync CPU s (1 idle-wait s incl.)');
for (const [name, r] of [['shared', shared], ['unique', unique]] as const) {
  console.log(`${name.padEnd(7)} ${fmt(r.bytes, 1).padStart(9)} ${fmt(r.rssMb).padStart(8)} ${fmt(r.ingestCpu, 2).padStart(22)} ${fmt(r.syncCpu, 2).padStart(17)}`);
}
console.log(`ratio unique/shared: ${fmt(unique.bytes / shared.bytes, 2)}x B/route`);
