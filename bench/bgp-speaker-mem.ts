// Memory per route of the running speaker after a peer sent N /32s over a real TCP session on
// loopback, next to its table alone (bgp/rib's Rib, fed the same routes as decoded UPDATEs in
// process), measured in the same run: the ratio is what the shell adds.
// Two ways a peer can send the same 8 attribute sets:
//   - packed: as many prefixes per UPDATE as fit (what BIRD and GoBGP do for a table dump);
//   - single: one prefix per UPDATE (churn, or a peer that does not pack) — every UPDATE decodes
//     to a fresh attributes object, so only interning across UPDATEs keeps this small.
//
//   node --expose-gc --import tsx bench/bgp-speaker-mem.ts [--sizes 100000] [--host 127.0.0.41]
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { encodeMessage, makeOpen, packUpdates, type CodecContext } from '../bgp/codec/index.js';
import { Rib } from '../bgp/rib/index.js';
import { Speaker } from '../bgp/speaker/index.js';
import type { PathAttributes, Prefix, RouteSinkEvent } from '../bgp/types.js';
import { freePort } from '../test/harness/ports.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = opt('--sizes', '100000').split(',').map(Number);
const SPEAKER = opt('--host', '127.0.0.41');
const PEER = SPEAKER.replace(/\.\d+$/, (m) => `.${Number(m.slice(1)) + 1}`);
const AS = 64512;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/bgp-speaker-mem.ts');
  process.exit(2);
}
function heap(): number {
  for (let k = 0; k < 4; k++) gc?.();
  return process.memoryUsage().heapUsed;
}

const SETS: PathAttributes[] = Array.from({ length: 8 }, (_, k) => ({
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 65100 + k] }],
  nextHop: PEER,
  localPref: 100,
  med: k,
  communities: [AS * 65536 + k, AS * 65536 + 1000],
}));

function prefixAt(n: number): Prefix {
  return { family: 4, address: `${10 + ((n >>> 24) & 0x3f)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, length: 32 };
}

function frames(n: number, packed: boolean): Buffer[] {
  const ctx: CodecContext = { fourOctetAs: true };
  if (packed) {
    const groups = SETS.map((attributes) => ({ attributes, prefixes: [] as Prefix[] }));
    for (let i = 0; i < n; i++) groups[i & 7].prefixes.push(prefixAt(i));
    return packUpdates(groups, [], ctx);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(...packUpdates([{ attributes: SETS[i & 7], prefixes: [prefixAt(i)] }], [], ctx));
  return out;
}

const until = async (what: string, ok: () => boolean, ms = 300_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Speaker bytes per route: heap with N routes learned minus heap with the session up and empty. */
async function speakerBytes(n: number, packed: boolean): Promise<number> {
  const port = await freePort(SPEAKER);
  let installs = 0;
  const sink = { onRoute: (e: RouteSinkEvent) => void (e.type === 'install' ? installs++ : installs--) };
  const s = new Speaker({ asNumber: AS, routerId: SPEAKER, listenPort: port, listenAddresses: [SPEAKER], families: [4], holdTime: 0 }, sink, pino({ level: 'silent' }));
  await s.start([{ address: PEER, asNumber: AS, type: 'global', passive: true }]);
  let sock: Socket | undefined;
  try {
    sock = connect({ host: SPEAKER, port, localAddress: PEER });
    sock.on('data', () => undefined); // drain whatever the speaker sends
    await new Promise<void>((r, j) => (sock as Socket).once('connect', () => r()).once('error', j));
    const ctx: CodecContext = { fourOctetAs: false };
    sock.write(encodeMessage(makeOpen({ asn: AS, holdTime: 0, bgpId: PEER, capabilities: [{ code: 1, afi: 1, safi: 1 }] }), ctx));
    sock.write(encodeMessage({ type: 'KEEPALIVE' }, ctx));
    await until('session', () => s.peerStatus()[0]?.state === 'Established');
    // One Buffer (its bytes live outside the JS heap): 100k frame objects freed after h0 would
    // otherwise be subtracted from what the speaker holds (about 100 B per route when one per UPDATE).
    let wire: Buffer | undefined = Buffer.concat(frames(n, packed));
    const h0 = heap();
    sock.write(wire);
    wire = undefined;
    await until('routes learned', () => installs === n && s.peerStatus()[0]?.prefixesAccepted === n);
    await new Promise((r) => setTimeout(r, 200));
    const bytes = (heap() - h0) / n;
    if (s.bestPaths().length !== n) throw new Error(`Loc-RIB has ${s.bestPaths().length} routes, expected ${n}`);
    return bytes;
  } finally {
    sock?.destroy();
    await s.stop();
    // Let the session's close and timers run out: a speaker still reachable from them when the
    // next case takes its baseline would be freed during that case and subtracted from it.
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function ribBytes(n: number): number {
  const prefixes = Array.from({ length: n }, (_, i) => prefixAt(i));
  const h0 = heap();
  const quiet = (): void => undefined;
  const rib = new Rib({ asNumber: AS, routerId: SPEAKER }, { onRoute: quiet, groupChanged: quiet, peerChanged: quiet, trimDue: quiet });
  const A = rib.addPeer(PEER, { asNumber: AS });
  rib.sessionUp(A, { routerId: PEER, selfAddress: SPEAKER, afis: [1] });
  // A fresh attributes object per route, like decoding one UPDATE per prefix.
  for (let i = 0; i < n; i++) rib.update(A, { type: 'UPDATE', withdrawn: [], nlri: [prefixes[i]], attributes: { ...SETS[i & 7] } });
  const bytes = (heap() - h0 - 0) / n;
  if (rib.size !== n) throw new Error('rib size');
  return bytes;
}

const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`node ${process.version}, ${new Date().toISOString()}`);
console.log('routes    rib B/route   speaker packed B/route (ratio)   speaker 1-per-UPDATE B/route (ratio)');
for (const n of SIZES) {
  const rib = ribBytes(n);
  // Warm-up at a small size so code compiled on first use is not counted against the first case.
  await speakerBytes(Math.min(n, 5000), true);
  await speakerBytes(Math.min(n, 5000), false);
  const packed = await speakerBytes(n, true);
  const single = await speakerBytes(n, false);
  console.log(`${fmt(n).padStart(7)} ${fmt(rib, 1).padStart(13)} ${`${fmt(packed, 1)} (${fmt(packed / rib, 2)}x)`.padStart(32)} ${`${fmt(single, 1)} (${fmt(single / rib, 2)}x)`.padStart(38)}`);
}
console.log('ratio = speaker bytes per route / its Rib alone, bytes per route (the Rib also counts its prefix array share).');
