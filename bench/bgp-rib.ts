// Loc-RIB memory per route and insert / best-path throughput, next to a naive baseline measured in
// the same run on the same routes:
//   - naive: Map<prefix string, { prefix, attrs (a copy per route), nextHop }> — what a RIB without
//     interning looks like (one attribute object graph per route);
//   - rib: bgp/rib's Rib, the table the speaker runs on (Adj-RIB-In + Loc-RIB, interned attribute
//     sets, shared path objects), fed decoded UPDATEs in process — i.e. it holds more (per-peer
//     Adj-RIB-In and the Loc-RIB) and still has to be smaller.
// Routes are /32s from one iBGP peer sharing 8 attribute sets; "best path" then has a second peer
// announce every prefix again (2 candidates per prefix, selection on each).
//
//   node --expose-gc --import tsx bench/bgp-rib.ts [--sizes 100000,1000000]
import { Rib, type PeerRib } from '../bgp/rib/index.js';
import type { PathAttributes, Prefix } from '../bgp/types.js';

const args = process.argv.slice(2);
const i = args.indexOf('--sizes');
const SIZES = (i >= 0 ? args[i + 1] : '100000,1000000').split(',').map(Number);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/bgp-rib.ts');
  process.exit(2);
}

function heap(): number {
  for (let k = 0; k < 3; k++) gc?.();
  return process.memoryUsage().heapUsed;
}

const SETS: PathAttributes[] = Array.from({ length: 8 }, (_, k) => ({
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 65100 + k] }],
  nextHop: '10.0.0.1',
  localPref: 100,
  med: k,
  communities: [64512 * 65536 + k, 64512 * 65536 + 1000],
}));

function prefixAt(n: number): Prefix {
  return { family: 4, address: `${10 + ((n >>> 24) & 0x3f)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, length: 32 };
}

const quiet = { onRoute: (): void => undefined, groupChanged: (): void => undefined, peerChanged: (): void => undefined, trimDue: (): void => undefined };

/** An established iBGP peer of the table. */
function peerOf(rib: Rib, address: string): PeerRib {
  const p = rib.addPeer(address, { asNumber: 64512 });
  rib.sessionUp(p, { routerId: address, selfAddress: '10.0.0.100', afis: [1] });
  return p;
}

/** One prefix per UPDATE, as a peer that does not pack sends them. */
const announce = (rib: Rib, p: PeerRib, prefix: Prefix, attributes: PathAttributes): void => rib.update(p, { type: 'UPDATE', withdrawn: [], nlri: [prefix], attributes });

function fmt(n: number, d = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

console.log(`node ${process.version}, ${new Date().toISOString()}`);
console.log('routes      naive B/route   rib B/route   mem ratio   naive ins/s    rib ins/s   ins ratio   best-path upd/s');
for (const N of SIZES) {
  const prefixes = Array.from({ length: N }, (_, n) => prefixAt(n));

  // naive
  let h0 = heap();
  let t = process.hrtime.bigint();
  const naive = new Map<string, { prefix: Prefix; attrs: PathAttributes; nextHop: string }>();
  for (let n = 0; n < N; n++) {
    const p = prefixes[n];
    naive.set(`${p.address}/${p.length}`, { prefix: { ...p }, attrs: structuredClone(SETS[n & 7]), nextHop: '10.0.0.1' });
  }
  const naiveSec = Number(process.hrtime.bigint() - t) / 1e9;
  const naiveBytes = (heap() - h0) / N;
  naive.clear();

  // rib
  h0 = heap();
  t = process.hrtime.bigint();
  const rib = new Rib({ asNumber: 64512, routerId: '10.0.0.100' }, quiet);
  const A = peerOf(rib, '10.0.0.1');
  const B = peerOf(rib, '10.0.0.2');
  for (let n = 0; n < N; n++) announce(rib, A, prefixes[n], SETS[n & 7]);
  const ribSec = Number(process.hrtime.bigint() - t) / 1e9;
  const ribBytes = (heap() - h0) / N;

  t = process.hrtime.bigint();
  for (let n = 0; n < N; n++) announce(rib, B, prefixes[n], SETS[(n + 1) & 7]);
  const bestSec = Number(process.hrtime.bigint() - t) / 1e9;
  if (rib.size !== N || rib.attrTable.size !== 8) throw new Error(`unexpected RIB state: ${rib.size} prefixes, ${rib.attrTable.size} attribute sets`);

  console.log(
    [
      fmt(N).padStart(9),
      fmt(naiveBytes, 1).padStart(15),
      fmt(ribBytes, 1).padStart(13),
      `${fmt(naiveBytes / ribBytes, 2)}x`.padStart(11),
      fmt(N / naiveSec).padStart(13),
      fmt(N / ribSec).padStart(12),
      `${fmt(naiveSec / ribSec, 2)}x`.padStart(11),
      fmt(N / bestSec).padStart(17),
    ].join(' '),
  );
}
console.log('mem ratio > 1: the RIB (Adj-RIB-In + Loc-RIB) uses less heap per route than the naive single map.');
