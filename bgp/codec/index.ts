// Public API of the BGP wire codec (pure: no I/O). First published as stubs so the FSM and RIB
// can code against it; the implementation fills in behind the same signatures.
import type { PathAttributes } from '../types.js';
import type { AfiSafi, BgpMessage, CodecContext, DecodeOutcome, NlriPrefix, NotificationMessage, OpenMessage, UpdateMessage } from './types.js';

export * from './types.js';

/** Routes sharing one attribute set, for packUpdates. IPv6 (or nextHops given) → MP_REACH_NLRI. */
export interface RouteGroup {
  attributes: PathAttributes;
  prefixes: NlriPrefix[];
  /** MP_REACH next hops (IPv6 global [+ link-local], or IPv6 for IPv4 NLRI with RFC 8950). */
  nextHops?: string[];
}

export function encodeMessage(_msg: BgpMessage, _ctx: CodecContext): Buffer {
  throw new Error('not implemented yet');
}
export function decodeMessage(_frame: Buffer, _ctx: CodecContext): DecodeOutcome {
  throw new Error('not implemented yet');
}
export class MessageFramer {
  error?: NotificationMessage;
  push(_chunk: Buffer): Buffer[] {
    throw new Error('not implemented yet');
  }
}
export function describeNotification(_code: number, _subcode: number, _data?: Buffer): string {
  throw new Error('not implemented yet');
}
export function isEndOfRib(_u: UpdateMessage): AfiSafi | undefined {
  throw new Error('not implemented yet');
}
export function endOfRib(_afi: number, _safi: number): UpdateMessage {
  throw new Error('not implemented yet');
}
export function packUpdates(_groups: RouteGroup[], _withdrawals: NlriPrefix[], _ctx: CodecContext, _maxSize = 4096): Buffer[] {
  throw new Error('not implemented yet');
}
/** The CodecContext for a session from our OPEN and the peer's. */
export function negotiateContext(_local: OpenMessage, _remote: OpenMessage): CodecContext {
  throw new Error('not implemented yet');
}
