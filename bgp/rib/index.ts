// The pure BGP RIB: interning, Adj-RIB-In/Loc-RIB with best path, Adj-RIB-Out with update groups,
// RFC 4456 reflection rules, MRAI batching and graceful-restart helper state.
export { AttrTable, attrKey, type Interned } from './attrs.js';
export { LOCAL, compareAddresses, type RibPeer } from './peer.js';
export { comparePaths, rankPaths, decisionReason, asPathLength, neighbourAs, DEFAULT_LOCAL_PREF, type Path, type DecisionReason, type NextHopCheck } from './bestpath.js';
export { Rib, prefixKey, keyToPrefix, type RibOptions, type LocRibChange, type ImportResult } from './rib.js';
export { exportPath, outboundPolicyKey, sendsTo, type ExportTarget, type ExportContext } from './export.js';
export { AdjRibOut, propagate, fullTable, emptyDiff, diffSize, type OutDiff } from './adj-out.js';
export { Mrai, DEFAULT_MRAI_MS, type MraiDecision } from './mrai.js';
export { GrHelper, DEFAULT_STALE_TIME, type GrEvent, type GrAction } from './gr.js';
