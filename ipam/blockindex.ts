// The per-pool block index that makes finding an unclaimed block O(1) datastore reads instead of a
// scan of every block. One key per pool window of WINDOW_BLOCKS blocks holds a bitmap: bit n set ⇔
// block n of the window exists. It is written in the same transaction as the block create/delete,
// guarded by its mod revision, so it can never disagree with the blocks written through us.
// See ipam/README.md for the consistency argument.
import { IPAM_PREFIX, cidrToKeyPart } from '../datastore/keys.js';
import type { Cidr } from './cidr.js';
import { blockCount, formatCidr } from './cidr.js';

/** Blocks per index key: 65,536 bits = 8 KiB of bitmap, far below etcd's value limit. */
export const WINDOW_BLOCKS = 65536n;

export const BLOCK_INDEX_PREFIX = `${IPAM_PREFIX}tortie/blockindex/`;

export function blockIndexKey(pool: Cidr, blockPrefix: number, window: bigint): string {
  return `${BLOCK_INDEX_PREFIX}ipv${pool.family}/${cidrToKeyPart(formatCidr(pool))}/${blockPrefix}/${window}`;
}

export interface BlockIndexWindow {
  pool: string;
  blockSize: number;
  window: number;
  /** Number of blocks this window covers. */
  blocks: number;
  /** Number of set bits, kept so `ipam show` need not decode. */
  claimed: number;
  /** base64 bitmap, bit n (LSB-first within each byte) ⇔ block window*WINDOW_BLOCKS + n exists. */
  bitmap: string;
}

export function windowCount(pool: Cidr, blockPrefix: number): bigint {
  const n = blockCount(pool, blockPrefix);
  return (n + WINDOW_BLOCKS - 1n) / WINDOW_BLOCKS;
}

export function emptyWindow(pool: Cidr, blockPrefix: number, window: bigint): BlockIndexWindow {
  const total = blockCount(pool, blockPrefix);
  const start = window * WINDOW_BLOCKS;
  const blocks = Number(total - start < WINDOW_BLOCKS ? total - start : WINDOW_BLOCKS);
  return {
    pool: formatCidr(pool),
    blockSize: blockPrefix,
    window: Number(window),
    blocks,
    claimed: 0,
    bitmap: Buffer.alloc(Math.ceil(blocks / 8)).toString('base64'),
  };
}

export function parseWindow(key: string, text: string): BlockIndexWindow {
  const o = JSON.parse(text) as Partial<BlockIndexWindow>;
  if (typeof o.bitmap !== 'string' || typeof o.blocks !== 'number') throw new Error(`${key}: malformed block index`);
  return o as BlockIndexWindow;
}

export function isSet(w: BlockIndexWindow, n: number): boolean {
  const buf = Buffer.from(w.bitmap, 'base64');
  return ((buf[n >> 3] ?? 0) & (1 << (n & 7))) !== 0;
}

export function withBit(w: BlockIndexWindow, n: number, on: boolean): BlockIndexWindow {
  const buf = Buffer.from(w.bitmap, 'base64');
  const was = (buf[n >> 3] & (1 << (n & 7))) !== 0;
  if (was === on) return w;
  if (on) buf[n >> 3] |= 1 << (n & 7);
  else buf[n >> 3] &= ~(1 << (n & 7));
  return { ...w, bitmap: buf.toString('base64'), claimed: w.claimed + (on ? 1 : -1) };
}

/**
 * First clear bit at or after `from` (wrapping), or -1. Starting at a per-host offset spreads
 * concurrent claimers over different blocks; it is a CPU scan of at most 8 KiB, no I/O.
 */
export function firstClear(w: BlockIndexWindow, from = 0): number {
  if (w.claimed >= w.blocks) return -1;
  const buf = Buffer.from(w.bitmap, 'base64');
  for (let k = 0; k < w.blocks; k++) {
    const n = (from + k) % w.blocks;
    const byte = buf[n >> 3];
    if (byte === 0xff && (n & 7) === 0 && n + 8 <= w.blocks) {
      k += 7;
      continue;
    }
    if ((byte & (1 << (n & 7))) === 0) return n;
  }
  return -1;
}
