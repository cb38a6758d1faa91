// Who a path came from, as the decision process and export rules need it.

export interface RibPeer {
  /** Peer address: the Adj-RIB-In key and the last tie-breaker. */
  readonly address: string;
  /** BGP identifier from the peer's OPEN. */
  readonly routerId: string;
  readonly asn: number;
  /** Its AS differs from ours. */
  readonly ebgp: boolean;
  /** We are its route reflector (RFC 4456 client). */
  readonly rrClient: boolean;
}

/** The pseudo-peer for locally originated routes (they always win). */
export const LOCAL: RibPeer = Object.freeze({ address: 'local', routerId: '0.0.0.0', asn: 0, ebgp: false, rrClient: false });

/** Numeric order of IPv4/IPv6 addresses (v4 before v6), for router-id and peer-address tie-breaks. */
export function compareAddresses(a: string, b: string): number {
  if (a === b) return 0;
  const na = addrNum(a);
  const nb = addrNum(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function addrNum(a: string): bigint {
  if (!a.includes(':')) {
    const p = a.split('.');
    return p.length === 4 ? BigInt(((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0) : 0n;
  }
  const [h, t = ''] = a.split('::');
  const head = h ? h.split(':') : [];
  const tail = a.includes('::') && t ? t.split(':') : [];
  const groups = a.includes('::') ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  // Offset v6 above every v4 so mixed comparisons are total.
  return (1n << 128n) + groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16) || 0), 0n);
}
