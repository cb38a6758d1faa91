// BGP codec throughput: decode and encode (UPDATE packing) in messages/s and prefixes/s, each
// printed next to references measured in the same run on the same data:
//   - JSON: JSON.parse / JSON.stringify of the decoded UpdateMessage objects (native, optimised);
//   - naive: a straightforward Buffer.concat encoder and an ipaddr.js-per-prefix decoder, i.e.
//     what a first implementation without a writer or hand-rolled IPv4 formatting looks like.
// Ratios > 1 mean the codec is faster than the reference.
//
//   npx tsx bench/bgp-codec.ts [--routes 100000] [--seconds 1]
import ipaddr from 'ipaddr.js';
import { decodeMessage, encodeMessage, packUpdates, type CodecContext, type NlriPrefix, type UpdateMessage } from '../bgp/codec/index.js';
import type { PathAttributes } from '../bgp/types.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUTES = arg('routes', 100_000);
const SECONDS = arg('seconds', 1);
const ctx: CodecContext = { fourOctetAs: true };

const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [64512, 4200000001] }],
  nextHop: '10.0.0.1',
  localPref: 100,
  med: 10,
  communities: [64512 * 65536 + 100],
};

function v4Routes(n: number): NlriPrefix[] {
  return Array.from({ length: n }, (_, i) => ({ family: 4 as const, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, length: 32 }));
}
function v6Routes(n: number): NlriPrefix[] {
  return Array.from({ length: n }, (_, i) => ({ family: 6 as const, address: `fd00:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::`, length: 64 }));
}

/** Runs fn repeatedly for about `seconds`; returns operations per second. */
function rate(fn: () => void, seconds: number): number {
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    fn();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < seconds);
  return runs / elapsed;
}

/**
 * Ops/s of a subject and its reference, measured in alternating slices and keeping each one's
 * best slice, so load from other processes on the machine hits both alike.
 */
function compare(subject: () => void, reference: () => void): [number, number] {
  subject();
  reference(); // warm-up
  let a = 0;
  let b = 0;
  for (let i = 0; i < 5; i++) {
    a = Math.max(a, rate(subject, SECONDS / 5));
    b = Math.max(b, rate(reference, SECONDS / 5));
  }
  return [a, b];
}

// ---- references ------------------------------------------------------------------------------

function naiveEncode(u: UpdateMessage): Buffer {
  const parts: Buffer[] = [];
  const nlri = Buffer.concat(
    u.nlri.map((p) => {
      const bytes = ipaddr.parse(p.address).toByteArray();
      return Buffer.concat([Buffer.from([p.length]), Buffer.from(bytes.slice(0, (p.length + 7) >> 3))]);
    }),
  );
  const a = u.attributes!;
  parts.push(Buffer.from([0x40, 1, 1, a.origin]));
  const path = Buffer.concat(a.asPath.map((s) => Buffer.concat([Buffer.from([s.type, s.asns.length]), ...s.asns.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; })])));
  parts.push(Buffer.concat([Buffer.from([0x40, 2, path.length]), path]));
  parts.push(Buffer.concat([Buffer.from([0x40, 3, 4]), Buffer.from(ipaddr.parse(a.nextHop!).toByteArray())]));
  const attrBuf = Buffer.concat(parts);
  const body = Buffer.concat([Buffer.from([0, 0, attrBuf.length >> 8, attrBuf.length & 255]), attrBuf, nlri]);
  const hdr = Buffer.alloc(19, 0xff);
  hdr.writeUInt16BE(19 + body.length, 16);
  hdr[18] = 2;
  return Buffer.concat([hdr, body]);
}

function naiveDecodeNlri(frame: Buffer): NlriPrefix[] {
  const wl = frame.readUInt16BE(19);
  const al = frame.readUInt16BE(21 + wl);
  const out: NlriPrefix[] = [];
  let off = 23 + wl + al;
  while (off < frame.length) {
    const len = frame[off];
    const n = (len + 7) >> 3;
    const bytes = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) bytes[i] = frame[off + 1 + i];
    out.push({ family: 4, address: ipaddr.fromByteArray(bytes).toString(), length: len });
    off += 1 + n;
  }
  return out;
}

// ---- runs ------------------------------------------------------------------------------------

interface Row {
  name: string;
  msgs: number;
  prefixes: number;
  ref: string;
  refRate: number;
}

function row(name: string, opsPerSec: number, msgsPerOp: number, prefixesPerOp: number, ref: string, refOpsPerSec: number): Row {
  return { name, msgs: opsPerSec * msgsPerOp, prefixes: opsPerSec * prefixesPerOp, ref, refRate: opsPerSec / refOpsPerSec };
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

function main(): void {
  const rows: Row[] = [];
  const v4 = v4Routes(ROUTES);
  const v6 = v6Routes(Math.max(1, Math.floor(ROUTES / 5)));

  // Packed IPv4 /32 (the Calico case): one attribute set, ~800 prefixes per 4 KiB UPDATE.
  const frames4 = packUpdates([{ attributes: attrs, prefixes: v4 }], [], ctx);
  const decoded4 = frames4.map((f) => {
    const r = decodeMessage(f, ctx);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('bench data does not decode');
    return r.message;
  });
  const json4 = decoded4.map((m) => JSON.stringify(m));
  const decode4 = () => {
    for (const f of frames4) decodeMessage(f, ctx);
  };
  const [decodeOps, jsonParseOps] = compare(decode4, () => {
    for (const s of json4) JSON.parse(s);
  });
  rows.push(row(`decode IPv4 /32 x${ROUTES} (${frames4.length} UPDATEs)`, decodeOps, frames4.length, ROUTES, 'JSON.parse', jsonParseOps));
  const [decodeOps2, naiveDecodeOps] = compare(decode4, () => {
    for (const f of frames4) naiveDecodeNlri(f);
  });
  rows.push(row('  same', decodeOps2, frames4.length, ROUTES, 'naive ipaddr decoder (NLRI only)', naiveDecodeOps));

  const [packOps, jsonStringifyOps] = compare(
    () => packUpdates([{ attributes: attrs, prefixes: v4 }], [], ctx),
    () => {
      for (const m of decoded4) JSON.stringify(m);
    },
  );
  rows.push(row(`packUpdates IPv4 /32 x${ROUTES}`, packOps, frames4.length, ROUTES, 'JSON.stringify', jsonStringifyOps));
  const [encodeOps, naiveEncodeOps] = compare(
    () => {
      for (const m of decoded4) encodeMessage(m, ctx);
    },
    () => {
      for (const m of decoded4) naiveEncode(m);
    },
  );
  rows.push(row(`encodeMessage same UPDATEs`, encodeOps, frames4.length, ROUTES, 'naive Buffer.concat encoder', naiveEncodeOps));

  // IPv6 /64 in MP_REACH_NLRI.
  const frames6 = packUpdates([{ attributes: { ...attrs, nextHop: undefined }, prefixes: v6, nextHops: ['fd00::1', 'fe80::1'] }], [], ctx);
  const json6 = frames6.map((f) => {
    const r = decodeMessage(f, ctx);
    if (!r.ok) throw new Error('bench data does not decode');
    return JSON.stringify(r.message);
  });
  const [decode6Ops, jsonParse6Ops] = compare(
    () => {
      for (const f of frames6) decodeMessage(f, ctx);
    },
    () => {
      for (const s of json6) JSON.parse(s);
    },
  );
  rows.push(row(`decode IPv6 /64 x${v6.length} (${frames6.length} UPDATEs)`, decode6Ops, frames6.length, v6.length, 'JSON.parse', jsonParse6Ops));

  // Small UPDATEs: one prefix each with a full attribute set (per-message overhead).
  const small = v4.slice(0, 10_000).map((p, i): UpdateMessage => ({
    type: 'UPDATE',
    withdrawn: [],
    nlri: [p],
    attributes: { ...attrs, med: i, largeCommunities: [[4200000001, i, 1]], clusterList: ['10.0.0.9'], originatorId: '10.0.0.8' },
  }));
  const smallFrames = small.map((m) => encodeMessage(m, ctx));
  const smallJson = small.map((m) => JSON.stringify(m));
  const [smallDecOps, smallJsonOps] = compare(
    () => {
      for (const f of smallFrames) decodeMessage(f, ctx);
    },
    () => {
      for (const s of smallJson) JSON.parse(s);
    },
  );
  const [smallEncOps, smallStrOps] = compare(
    () => {
      for (const m of small) encodeMessage(m, ctx);
    },
    () => {
      for (const m of small) JSON.stringify(m);
    },
  );
  rows.push(row('decode 1-prefix UPDATEs, 8 attributes x10000', smallDecOps, small.length, small.length, 'JSON.parse', smallJsonOps));
  rows.push(row('encode 1-prefix UPDATEs, 8 attributes x10000', smallEncOps, small.length, small.length, 'JSON.stringify', smallStrOps));

  process.stdout.write(`BGP codec bench — node ${process.version}, ${SECONDS}s per side, best of 5 alternating slices\n`);
  process.stdout.write(`${'case'.padEnd(48)} ${'msgs/s'.padStart(9)} ${'prefixes/s'.padStart(11)}  ratio vs reference\n`);
  for (const r of rows) {
    process.stdout.write(`${r.name.padEnd(48)} ${fmt(r.msgs).padStart(9)} ${fmt(r.prefixes).padStart(11)}  ${r.refRate.toFixed(2)}x ${r.ref}\n`);
  }
}

main();
