// The one BGP table (pure: no sockets, timers or logs; see rib.ts). The speaker is its shell.
export { Rib, type RibConfig, type RibEvents, type LocalRoute, type Candidate, type Purge } from './rib.js';
export type { Path } from './path.js';
export { PeerRib, type PeerOptions, type ExportFilter, type SessionFacts, type OutMode } from './peer.js';
export { Announcements, type OutAttr, type OutGroup } from './adj-out.js';
export { FLUSH_CHUNK, type GroupBatch, type SyncBatch, type OutEvents } from './groups.js';
export { AttrInterner, WeakTable, attrKey } from './attrs.js';
export { best, comparePaths, rankPaths, decisionReason, asPathLength, neighbourAs, compareAddresses, DEFAULT_LOCAL_PREF, LOCAL_SOURCE, type PathInfo, type DecisionReason } from './bestpath.js';
export { exportRoute, type ExportTarget } from './export.js';
export { keyOf, keyToPrefix } from './prefix-key.js';
export { pathKey, PathIds } from './addpath-out.js';
