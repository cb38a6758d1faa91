// The BGP speaker: the shell (sockets, timers, encoding) around the pure table in bgp/rib.
export { Speaker, DEFAULT_MAX_QUEUED_BYTES } from './speaker.js';
export type { PeerConfig, SpeakerConfig, PeerStatus, RouteStatus, OriginatedRoute, PeerType, GracefulRestartConfig } from './types.js';
