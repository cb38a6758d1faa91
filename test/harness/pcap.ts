// A small, pure pcap reader for the BGP fixture capture (test/fixtures/bgp/capture.ts): classic
// libpcap files as tcpdump -w writes them, Ethernet / Linux cooked / raw IP link layers, IPv4 and
// IPv6, TCP. Each direction's TCP payload is reassembled by sequence number, so the byte stream a
// daemon sent is recovered exactly, however the kernel segmented, reordered or retransmitted it.
// No I/O here: the caller reads the file and hands over the bytes.
import { formatIpv4, formatIpv6 } from '../../bgp/codec/address.js';

export interface PcapRecord {
  /** Capture time, seconds and microseconds (nanosecond files are scaled down). */
  tsSec: number;
  tsUsec: number;
  /** Length of the packet on the wire (may exceed data.length when the snap length cut it). */
  origLen: number;
  data: Buffer;
}

export interface PcapFile {
  linkType: number;
  snapLen: number;
  records: PcapRecord[];
}

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export class PcapError extends Error {}

/** Parses a classic pcap file (either byte order, micro- or nanosecond timestamps). */
export function parsePcap(buf: Buffer): PcapFile {
  if (buf.length < 24) throw new PcapError(`pcap: file is ${buf.length} bytes, shorter than the 24-byte global header`);
  const magicBe = buf.readUInt32BE(0);
  let le: boolean;
  let nano: boolean;
  if (magicBe === 0xa1b2c3d4 || magicBe === 0xa1b23c4d) {
    le = false;
    nano = magicBe === 0xa1b23c4d;
  } else {
    const magicLe = buf.readUInt32LE(0);
    if (magicLe !== 0xa1b2c3d4 && magicLe !== 0xa1b23c4d) throw new PcapError(`pcap: bad magic 0x${magicBe.toString(16)} (pcapng is not supported; use tcpdump -w)`);
    le = true;
    nano = magicLe === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const snapLen = u32(16);
  // The upper bits of the link-type field carry FCS information (pcap-linktype(7)); mask them off.
  const linkType = u32(20) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let off = 24;
  while (off < buf.length) {
    if (off + 16 > buf.length) throw new PcapError(`pcap: record ${records.length} header truncated at offset ${off}`);
    const tsSec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const origLen = u32(off + 12);
    off += 16;
    if (off + inclLen > buf.length) throw new PcapError(`pcap: record ${records.length} claims ${inclLen} bytes, only ${buf.length - off} left`);
    records.push({ tsSec, tsUsec: nano ? Math.floor(frac / 1000) : frac, origLen, data: buf.subarray(off, off + inclLen) });
    off += inclLen;
  }
  return { linkType, snapLen, records };
}

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP flag bits: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10. */
  flags: number;
  payload: Buffer;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;

/** Decodes one captured frame down to TCP; undefined for anything that is not a whole TCP segment. */
export function decodeTcp(linkType: number, frame: Buffer): TcpSegment | undefined {
  let off: number;
  let etherType: number;
  if (linkType === LINKTYPE_ETHERNET) {
    if (frame.length < 14) return undefined;
    etherType = frame.readUInt16BE(12);
    off = 14;
    // 802.1Q / 802.1ad tags.
    while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= off + 4) {
      etherType = frame.readUInt16BE(off + 2);
      off += 4;
    }
  } else if (linkType === LINKTYPE_LINUX_SLL) {
    if (frame.length < 16) return undefined;
    etherType = frame.readUInt16BE(14);
    off = 16;
  } else if (linkType === LINKTYPE_LINUX_SLL2) {
    if (frame.length < 20) return undefined;
    etherType = frame.readUInt16BE(0);
    off = 20;
  } else if (linkType === LINKTYPE_RAW) {
    if (frame.length < 1) return undefined;
    etherType = frame[0] >> 4 === 6 ? 0x86dd : 0x0800;
    off = 0;
  } else {
    throw new PcapError(`pcap: link type ${linkType} is not supported (Ethernet, Linux cooked and raw IP are)`);
  }
  let src: string;
  let dst: string;
  let end: number;
  if (etherType === 0x0800) {
    if (frame.length < off + 20 || frame[off] >> 4 !== 4) return undefined;
    const ihl = (frame[off] & 0x0f) * 4;
    const total = frame.readUInt16BE(off + 2);
    const fragment = frame.readUInt16BE(off + 6) & 0x3fff; // MF flag or a fragment offset
    if (frame[off + 9] !== 6 || fragment || ihl < 20) return undefined;
    src = formatIpv4(frame, off + 12);
    dst = formatIpv4(frame, off + 16);
    // A zero total length is what GSO super-segments can carry; then the frame's end is the end.
    end = total ? off + total : frame.length;
    off += ihl;
  } else if (etherType === 0x86dd) {
    if (frame.length < off + 40 || frame[off] >> 4 !== 6) return undefined;
    // Extension headers are not walked: BGP sessions never carry them, so anything but TCP is skipped.
    if (frame[off + 6] !== 6) return undefined;
    src = formatIpv6(frame, off + 8);
    dst = formatIpv6(frame, off + 24);
    end = off + 40 + frame.readUInt16BE(off + 4);
    off += 40;
  } else {
    return undefined;
  }
  if (end > frame.length) return undefined; // cut by the snap length: the payload is incomplete
  if (end < off + 20) return undefined;
  const dataOff = (frame[off + 12] >> 4) * 4;
  if (dataOff < 20 || off + dataOff > end) return undefined;
  return {
    src,
    dst,
    srcPort: frame.readUInt16BE(off),
    dstPort: frame.readUInt16BE(off + 2),
    seq: frame.readUInt32BE(off + 4),
    ack: frame.readUInt32BE(off + 8),
    flags: frame[off + 13],
    payload: frame.subarray(off + dataOff, end),
  };
}

export interface TcpStream {
  /** "src:port>dst:port" (IPv6 addresses in brackets). */
  key: string;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** The initial sequence number (from the SYN, or the first segment seen if the SYN was missed). */
  isn: number;
  sawSyn: boolean;
  /** The payload bytes in sequence order. */
  data: Buffer;
  /** Bytes missing from the middle of the stream (a segment the capture lost); 0 when complete. */
  gapBytes: number;
}

const endpoint = (a: string, p: number) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
export const streamKey = (s: { src: string; srcPort: number; dst: string; dstPort: number }) => `${endpoint(s.src, s.srcPort)}>${endpoint(s.dst, s.dstPort)}`;

/**
 * Reassembles each direction of each TCP connection by sequence number. Retransmitted and
 * overlapping segments contribute their bytes once; out-of-order segments land where their
 * sequence number puts them; sequence numbers wrap modulo 2^32. A new SYN on a flow that already
 * carried data starts a new stream (the same ports reused by a later connection).
 */
export function reassembleTcp(segments: TcpSegment[]): TcpStream[] {
  interface Building {
    stream: Omit<TcpStream, 'data' | 'gapBytes'>;
    /** Relative offset → bytes. */
    pieces: Map<number, Buffer>;
  }
  const done: Building[] = [];
  const open = new Map<string, Building>();
  for (const s of segments) {
    const key = streamKey(s);
    let b = open.get(key);
    const syn = (s.flags & TCP_SYN) !== 0;
    if (b && syn && (b.pieces.size || !b.stream.sawSyn || b.stream.isn !== s.seq)) {
      done.push(b);
      b = undefined;
    }
    if (!b) {
      // The SYN consumes one sequence number, so data starts at isn + 1.
      b = { stream: { key, src: s.src, dst: s.dst, srcPort: s.srcPort, dstPort: s.dstPort, isn: syn ? s.seq : (s.seq - 1) >>> 0, sawSyn: syn }, pieces: new Map() };
      open.set(key, b);
    }
    if (!s.payload.length) continue;
    const dataStart = syn ? (s.seq + 1) >>> 0 : s.seq;
    const rel = (dataStart - b.stream.isn - 1) >>> 0;
    // A segment from before the first one we saw (missed SYN, reordering) would wrap to a huge
    // offset; such bytes cannot be placed, so they are dropped rather than misplaced.
    if (rel > 0x7fffffff) continue;
    const prev = b.pieces.get(rel);
    if (!prev || prev.length < s.payload.length) b.pieces.set(rel, s.payload);
  }
  done.push(...open.values());
  return done.map(({ stream, pieces }) => {
    const order = [...pieces.entries()].sort((x, y) => x[0] - y[0]);
    const parts: Buffer[] = [];
    let at = 0;
    let gapBytes = 0;
    for (const [rel, bytes] of order) {
      if (rel > at) {
        gapBytes += rel - at;
        parts.push(Buffer.alloc(rel - at));
        at = rel;
      }
      const skip = at - rel; // the overlap with bytes already placed (a retransmission)
      if (skip < bytes.length) {
        parts.push(bytes.subarray(skip));
        at += bytes.length - skip;
      }
    }
    return { ...stream, data: Buffer.concat(parts), gapBytes };
  });
}

/** Convenience: the reassembled TCP streams of a whole pcap file. */
export function pcapTcpStreams(file: Buffer): TcpStream[] {
  const pcap = parsePcap(file);
  const segs: TcpSegment[] = [];
  for (const r of pcap.records) {
    const seg = decodeTcp(pcap.linkType, r.data);
    if (seg) segs.push(seg);
  }
  return reassembleTcp(segs);
}
