export { computeBgpConfig, peerName, hashRouterId, DEFAULT_AS, DEFAULT_LISTEN_PORT } from './generate.js';
export type * from './types.js';
