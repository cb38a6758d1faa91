// Public API of the BGP wire codec: pure functions over Buffers, no I/O.
// Typical session use:
//   const framer = new MessageFramer();           // per TCP connection
//   for (const f of framer.push(chunk)) { const r = decodeMessage(f, ctx); … }
//   if (framer.error) send(encodeMessage(framer.error, ctx)) and close;
//   ctx = negotiateContext(ourOpen, theirOpen) once both OPENs are known.
export * from './types.js';
export { encodeMessage, decodeMessage, maxMessageLength } from './message.js';
export { MessageFramer, type FeedResult } from './framer.js';
export {
  describeNotification,
  notification,
  ceaseWithMessage,
  shutdownCommunication,
  parseShutdownCommunication,
  ERROR_CODE_NAMES,
  ERROR_SUBCODE_NAMES,
} from './notification.js';
export { packUpdates, endOfRib, isEndOfRib, type RouteGroup } from './pack.js';
export { negotiateContext, makeOpen, openAsn, commonFamilies, type OpenOptions } from './open.js';
export { findCapability, allCapabilities } from './capabilities.js';
export { formatAttributes, ATTRIBUTE_TABLE, type AttrEntry, type ErrorAction } from './attributes.js';
export { formatAsPath, mergeAs4Path } from './aspath.js';
export * as constants from './constants.js';
export { AS_TRANS } from './constants.js';
