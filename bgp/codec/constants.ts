// Wire constants of RFC 4271 and its extensions.

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
export const AS_TRANS = 23456;
export const BGP_VERSION = 4;

export const MSG_OPEN = 1;
export const MSG_UPDATE = 2;
export const MSG_NOTIFICATION = 3;
export const MSG_KEEPALIVE = 4;
export const MSG_ROUTE_REFRESH = 5;

// Attribute flags (RFC 4271 §4.3).
export const FLAG_OPTIONAL = 0x80;
export const FLAG_TRANSITIVE = 0x40;
export const FLAG_PARTIAL = 0x20;
export const FLAG_EXTENDED_LENGTH = 0x10;

// Attribute type codes.
export const ATTR_ORIGIN = 1;
export const ATTR_AS_PATH = 2;
export const ATTR_NEXT_HOP = 3;
export const ATTR_MED = 4;
export const ATTR_LOCAL_PREF = 5;
export const ATTR_ATOMIC_AGGREGATE = 6;
export const ATTR_AGGREGATOR = 7;
export const ATTR_COMMUNITIES = 8;
export const ATTR_ORIGINATOR_ID = 9;
export const ATTR_CLUSTER_LIST = 10;
export const ATTR_MP_REACH_NLRI = 14;
export const ATTR_EXTENDED_COMMUNITIES = 16;
export const ATTR_MP_UNREACH_NLRI = 15;
export const ATTR_AS4_PATH = 17;
export const ATTR_AS4_AGGREGATOR = 18;
export const ATTR_LARGE_COMMUNITIES = 32;

// NOTIFICATION error codes.
export const ERR_HEADER = 1;
export const ERR_OPEN = 2;
export const ERR_UPDATE = 3;
export const ERR_HOLD_TIMER = 4;
export const ERR_FSM = 5;
export const ERR_CEASE = 6;
export const ERR_ROUTE_REFRESH = 7;

// Message Header Error subcodes.
export const HDR_NOT_SYNCHRONIZED = 1;
export const HDR_BAD_LENGTH = 2;
export const HDR_BAD_TYPE = 3;

// OPEN Message Error subcodes.
export const OPEN_UNSUPPORTED_VERSION = 1;
export const OPEN_BAD_PEER_AS = 2;
export const OPEN_BAD_BGP_ID = 3;
export const OPEN_UNSUPPORTED_OPT_PARAM = 4;
export const OPEN_UNACCEPTABLE_HOLD_TIME = 6;
export const OPEN_UNSUPPORTED_CAPABILITY = 7;
export const OPEN_ROLE_MISMATCH = 11;

// UPDATE Message Error subcodes.
export const UPD_MALFORMED_ATTR_LIST = 1;
export const UPD_UNRECOGNIZED_WELL_KNOWN = 2;
export const UPD_MISSING_WELL_KNOWN = 3;
export const UPD_ATTR_FLAGS = 4;
export const UPD_ATTR_LENGTH = 5;
export const UPD_INVALID_ORIGIN = 6;
export const UPD_INVALID_NEXT_HOP = 8;
export const UPD_OPTIONAL_ATTR = 9;
export const UPD_INVALID_NETWORK = 10;
export const UPD_MALFORMED_AS_PATH = 11;

// Cease subcodes (RFC 4486, 8203/9003, 8538, 9384).
export const CEASE_MAX_PREFIXES = 1;
export const CEASE_ADMIN_SHUTDOWN = 2;
export const CEASE_PEER_DECONFIGURED = 3;
export const CEASE_ADMIN_RESET = 4;
export const CEASE_CONNECTION_REJECTED = 5;
export const CEASE_OTHER_CONFIG_CHANGE = 6;
export const CEASE_COLLISION = 7;
export const CEASE_OUT_OF_RESOURCES = 8;
export const CEASE_HARD_RESET = 9;
export const CEASE_BFD_DOWN = 10;

// ROUTE-REFRESH Message Error subcodes (RFC 7313).
export const RR_INVALID_LENGTH = 1;
