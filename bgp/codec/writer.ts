// A growable byte writer: encoders append into one buffer instead of concatenating many small
// ones, and length fields are back-patched once the enclosed bytes are known.

export class Writer {
  private buf: Buffer;
  offset = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.offset);
    this.offset += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** An NLRI prefix: its length octet, then the octets it covers with host bits cleared (one bounds check per prefix, on the per-prefix path). */
  prefixBytes(length: number, address: Uint8Array): this {
    const n = (length + 7) >> 3;
    this.ensure(1 + n);
    const buf = this.buf;
    let o = this.offset;
    buf[o++] = length;
    if (n > 0) {
      for (let i = 0; i < n - 1; i++) buf[o++] = address[i];
      buf[o++] = address[n - 1] & (length & 7 ? (0xff << (8 - (length & 7))) & 0xff : 0xff);
    }
    this.offset = o;
    return this;
  }

  fill(v: number, n: number): this {
    this.ensure(n);
    this.buf.fill(v, this.offset, this.offset + n);
    this.offset += n;
    return this;
  }

  /** Reserves `width` octets for a length patched later by patchLength. */
  reserve(width: 1 | 2): number {
    const at = this.offset;
    this.ensure(width);
    this.offset += width;
    return at;
  }

  /** Writes (offset - at - width) into the reserved field. */
  patchLength(at: number, width: 1 | 2): number {
    const len = this.offset - at - width;
    if (width === 1) this.buf[at] = len;
    else this.buf.writeUInt16BE(len, at);
    return len;
  }

  /**
   * Closes a path attribute started as [flags|EXT][type][len16]: when the value fits in one
   * octet the length is narrowed and the Extended Length bit cleared, so the common case stays short.
   */
  endAttribute(flagsAt: number): void {
    const valueAt = flagsAt + 4;
    const len = this.offset - valueAt;
    if (len <= 255) {
      this.buf[flagsAt] &= ~0x10;
      this.buf[flagsAt + 2] = len;
      this.buf.copyWithin(flagsAt + 3, valueAt, this.offset);
      this.offset--;
    } else {
      this.buf[flagsAt] |= 0x10;
      this.buf.writeUInt16BE(len, flagsAt + 2);
    }
  }

  setU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  /** A copy of the written bytes (the internal buffer may be reused). */
  /** Starts over in the same buffer (what finish() returned is a copy, and stays valid). */
  reset(): this {
    this.offset = 0;
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.offset));
  }

  /** The written bytes without copying; valid until the next write. */
  view(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}
