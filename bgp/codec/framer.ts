// Splits a TCP byte stream into whole BGP messages. It checks only what framing needs (marker
// and length); everything else is decodeMessage's job. After a header error it stops: the
// session must send the NOTIFICATION and close.
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from './constants.js';
import { checkHeader } from './message.js';
import type { NotificationMessage } from './types.js';

export interface FeedResult {
  frames: Buffer[];
  error?: { notification: NotificationMessage; reason: string };
}

export class MessageFramer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Set once a header error is seen; no frames are produced afterwards. */
  error?: NotificationMessage;
  errorReason?: string;
  private maxLength: number;

  constructor(opts: { extendedMessages?: boolean } = {}) {
    this.maxLength = opts.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /** Call when RFC 8654 extended messages get negotiated mid-stream (after OPEN). */
  setExtendedMessages(on: boolean): void {
    this.maxLength = on ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /** Whole frames completed by this chunk; check `error` afterwards. */
  push(chunk: Buffer): Buffer[] {
    return this.feed(chunk).frames;
  }

  /** Like push, but returns the header error alongside the frames that preceded it. */
  feed(chunk: Buffer): FeedResult {
    if (this.error) return { frames: [], error: { notification: this.error, reason: this.errorReason ?? '' } };
    if (chunk.length) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
    }
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    const frames: Buffer[] = [];
    let off = 0;
    while (buf.length - off >= HEADER_LENGTH) {
      const hdr = buf.subarray(off, off + HEADER_LENGTH);
      const err = checkHeader(hdr, this.maxLength);
      if (err) {
        this.error = err.notification;
        this.errorReason = err.message;
        this.pending = [];
        this.pendingLength = 0;
        return { frames, error: { notification: err.notification, reason: err.message } };
      }
      const len = hdr.readUInt16BE(16);
      if (buf.length - off < len) break;
      // Copy so frames never pin or alias the (possibly large) receive buffer.
      frames.push(Buffer.from(buf.subarray(off, off + len)));
      off += len;
    }
    buf = buf.subarray(off);
    this.pending = buf.length ? [buf] : [];
    this.pendingLength = buf.length;
    return { frames };
  }

  /** Octets received but not yet part of a whole frame. */
  get buffered(): number {
    return this.pendingLength;
  }
}
