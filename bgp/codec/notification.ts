// NOTIFICATION codes and subcodes of RFC 4271 and later RFCs, their names, and decoding of the
// data field into something an operator can read in a log line.
import { ERR_CEASE, ERR_HEADER, ERR_OPEN, ERR_UPDATE, CEASE_ADMIN_RESET, CEASE_ADMIN_SHUTDOWN, CEASE_MAX_PREFIXES } from './constants.js';
import type { NotificationMessage } from './types.js';

export const ERROR_CODE_NAMES: Readonly<Record<number, string>> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

export const ERROR_SUBCODE_NAMES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  // RFC 4271 §4.5
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  // RFC 4271 §4.5, 5492 (7), 9234 (11); 5, 8, 9, 10 deprecated
  2: {
    0: 'Unspecific',
    1: 'Unsupported Version Number',
    2: 'Bad Peer AS',
    3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter',
    5: 'Authentication Failure (deprecated)',
    6: 'Unacceptable Hold Time',
    7: 'Unsupported Capability',
    8: 'Deprecated (8)',
    9: 'Deprecated (9)',
    10: 'Deprecated (10)',
    11: 'Role Mismatch',
  },
  // RFC 4271 §4.5; 7 deprecated
  3: {
    0: 'Unspecific',
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    7: 'AS Routing Loop (deprecated)',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  4: { 0: 'Unspecific' },
  // RFC 6608
  5: {
    0: 'Unspecified Error',
    1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  // RFC 4486, 8538 (9), 9384 (10)
  6: {
    0: 'Unspecific',
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
    10: 'BFD Down',
  },
  // RFC 7313
  7: { 0: 'Reserved', 1: 'Invalid Message Length' },
};

export function notification(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): NotificationMessage {
  return { type: 'NOTIFICATION', code, subcode, data };
}

/** RFC 9003 shutdown communication: one length octet then up to 255 octets of UTF-8. */
export function shutdownCommunication(text: string): Buffer {
  let bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) {
    // Cut on a character boundary so the receiver still sees valid UTF-8.
    let end = 255;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** A Cease / Administrative Shutdown (or Reset) NOTIFICATION carrying a shutdown communication. */
export function ceaseWithMessage(subcode: typeof CEASE_ADMIN_SHUTDOWN | typeof CEASE_ADMIN_RESET, text: string): NotificationMessage {
  return notification(ERR_CEASE, subcode, shutdownCommunication(text));
}

/** The text of an RFC 9003 shutdown communication, or undefined when the data is not one. */
export function parseShutdownCommunication(data: Buffer): string | undefined {
  if (data.length === 0) return undefined;
  const len = data[0];
  if (len === 0 || 1 + len > data.length) return len === 0 ? '' : undefined;
  const text = data.subarray(1, 1 + len);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    return undefined;
  }
}

function hex(data: Buffer): string {
  return data.toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** "Cease / Administrative Shutdown: maintenance" — code, subcode and a reading of the data. */
export function describeNotification(code: number, subcode: number, data?: Buffer): string {
  const codeName = ERROR_CODE_NAMES[code] ?? `Unknown error code ${code}`;
  const subName = ERROR_SUBCODE_NAMES[code]?.[subcode] ?? (subcode === 0 ? 'Unspecific' : `unknown subcode ${subcode}`);
  let text = `${codeName} / ${subName}`;
  if (!data || data.length === 0) return text;
  let detail: string | undefined;
  if (code === ERR_CEASE && (subcode === CEASE_ADMIN_SHUTDOWN || subcode === CEASE_ADMIN_RESET)) {
    const msg = parseShutdownCommunication(data);
    if (msg !== undefined) detail = JSON.stringify(msg);
  } else if (code === ERR_CEASE && subcode === CEASE_MAX_PREFIXES && data.length >= 7) {
    detail = `AFI ${data.readUInt16BE(0)} SAFI ${data[2]} limit ${data.readUInt32BE(3)}`;
  } else if (code === ERR_HEADER && subcode === 2 && data.length === 2) {
    detail = `length ${data.readUInt16BE(0)}`;
  } else if (code === ERR_HEADER && subcode === 3 && data.length === 1) {
    detail = `type ${data[0]}`;
  } else if (code === ERR_OPEN && subcode === 1 && data.length === 2) {
    detail = `we support version ${data.readUInt16BE(0)}`;
  } else if (code === ERR_UPDATE && subcode === 3 && data.length === 1) {
    detail = `missing attribute type ${data[0]}`;
  } else if (code === ERR_UPDATE && data.length >= 3) {
    detail = `attribute type ${data[1]} (${hex(data.subarray(0, 64))}${data.length > 64 ? ' …' : ''})`;
  }
  text += `: ${detail ?? hex(data.subarray(0, 64)) + (data.length > 64 ? ' …' : '')}`;
  return text;
}
