// Vocabulary of the pure session FSM (RFC 4271 §8): configuration, events in, actions out.
// The FSM owns no sockets and no timers: the driver (session.ts) turns actions into I/O and
// feeds what happens back in as events, so every transition is unit-testable.
import type { AfiSafi, BgpMessage, CodecContext, NotificationMessage, OpenMessage } from '../codec/types.js';

export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** Timer names; per-connection timers carry the connection id. */
export type TimerName = 'connectRetry' | 'idleHold' | 'hold' | 'keepalive';

export interface FsmConfig {
  localAs: number;
  /** Expected peer AS (4-octet). */
  peerAs: number;
  /** Our BGP identifier (router id), dotted quad. */
  routerId: string;
  /** Hold time we propose, seconds. Default 240 (BIRD's default, which Calico runs; RFC suggests 90). */
  holdTime?: number;
  /** ConnectRetry, seconds. Default 120 (RFC 4271 §10). Doubles per consecutive failed attempt up to connectRetryMax. */
  connectRetryTime?: number;
  /** Cap of the ConnectRetry back-off, seconds. Default 600. */
  connectRetryMax?: number;
  /** Wait after a session error before restarting, seconds: [min, max], doubling per error (BIRD's "error wait time"). Default [5, 300]. */
  errorWait?: [number, number];
  /** Errors further apart than this (seconds) do not count as a sequence (BIRD's "error forget time"). Default 300. */
  errorForget?: number;
  /** Never connect; only accept the peer's connection. */
  passive?: boolean;
  /** Families we advertise (Multiprotocol capability). Default IPv4 unicast. */
  families?: AfiSafi[];
  /**
   * Graceful restart capability to advertise; absent = not advertised. `notification` sets the N
   * bit (RFC 8538): once both sides set it, NOTIFICATIONs other than Cease/Hard Reset end the
   * session gracefully too, and our administrative resets are sent as Hard Reset. `restarting` sets
   * the R bit; `forwardingState` the F bit of every family, or only of those in `forwardingAfis`.
   */
  gracefulRestart?: { restartTime: number; restarting: boolean; forwardingState: boolean; forwardingAfis?: readonly number[]; notification?: boolean };
  /** ADD-PATH (RFC 7911) for every family: we accept several paths per prefix (receive), as Calico's BIRD with `add paths on` does. */
  addPathReceive?: boolean;
  /** ADD-PATH send too (capability value 3, both): we advertise every path of a prefix to a peer that receives them. */
  addPathSend?: boolean;
}

export interface NegotiatedSession {
  holdTime: number;
  keepaliveTime: number;
  peerAs: number;
  peerRouterId: string;
  ebgp: boolean;
  /** Families both sides advertised. */
  families: AfiSafi[];
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /** Both sides advertised graceful restart with the N bit (RFC 8538). */
  gracefulNotification: boolean;
  /** The peer's graceful restart capability, when advertised. */
  peerGracefulRestart?: { restartTime: number; restarting: boolean; notification: boolean; families: Array<AfiSafi & { forwardingState: boolean }> };
  localOpen: OpenMessage;
  remoteOpen: OpenMessage;
  codec: CodecContext;
}

export type Direction = 'out' | 'in';

export type FsmEvent =
  | { type: 'Start' }
  /** Administrative stop: Cease with the given subcode (default 2, Administrative Shutdown). */
  | { type: 'Stop'; subcode?: number; reason?: string }
  /** The driver opened a connection we asked for (out) or accepted one from the peer (in). */
  | { type: 'TcpConnected'; conn: number; dir: Direction }
  /** An outgoing connect attempt failed. */
  | { type: 'TcpFailed'; conn: number; error: string }
  /** The peer closed the connection or it broke. */
  | { type: 'TcpClosed'; conn: number; error?: string }
  | { type: 'TimerExpired'; timer: TimerName; conn?: number }
  /** A whole, decoded message. */
  | { type: 'Message'; conn: number; message: BgpMessage }
  /** Bytes arrived on the connection: restarts the hold timer before the messages are processed. */
  | { type: 'Traffic'; conn: number }
  /** The codec rejected a message: this NOTIFICATION must be sent and the session reset. */
  | { type: 'ProtocolError'; conn: number; notification: NotificationMessage; reason: string };

export type FsmAction =
  | { type: 'connect'; conn: number }
  | { type: 'send'; conn: number; message: BgpMessage }
  | { type: 'close'; conn: number }
  | { type: 'startTimer'; timer: TimerName; conn?: number; seconds: number }
  | { type: 'stopTimer'; timer: TimerName; conn?: number }
  | { type: 'established'; conn: number; session: NegotiatedSession }
  /** An UPDATE or ROUTE-REFRESH for the speaker (Established only). */
  | { type: 'deliver'; conn: number; message: BgpMessage }
  /**
   * The established session went away (reason for logs/status; notification if one was sent or
   * received). `graceful`: graceful restart procedures apply — a TCP failure (RFC 4724), or with
   * the N bit exchanged any NOTIFICATION but Cease/Hard Reset (RFC 8538 §4).
   */
  | { type: 'down'; reason: string; sent?: NotificationMessage; received?: NotificationMessage; graceful: boolean }
  | { type: 'state'; from: FsmState; to: FsmState; reason?: string };

export interface FsmDeps {
  /** Milliseconds clock (error-forget window). */
  now(): number;
  /** Uniform [0,1): timer jitter. */
  random(): number;
}
