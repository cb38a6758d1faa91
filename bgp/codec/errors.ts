// Internal error plumbing: decoders deep in the tree throw a WireError carrying the NOTIFICATION
// the session must send; decodeMessage turns it into a DecodeOutcome. Never escapes the codec.
import { notification } from './notification.js';
import type { NotificationMessage } from './types.js';

export class WireError extends Error {
  readonly notification: NotificationMessage;
  constructor(code: number, subcode: number, reason: string, data?: Buffer) {
    super(reason);
    this.name = 'WireError';
    this.notification = notification(code, subcode, data);
  }
}

/** A malformed attribute value; the attribute table decides what RFC 7606 action follows. */
export class AttrError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AttrError';
  }
}
