// Thin driver for the socket options Node has no API for: TCP-MD5 signatures (RFC 2385,
// TCP_MD5SIG) and GTSM (RFC 5082: IP_TTL / IP_MINTTL and their IPv6 twins), set with setsockopt(2)
// through koffi (prebuilt FFI, no compiler at install). Linux only, like the rest of the dataplane.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6, Socket, type Server } from 'node:net';
import ipaddr from 'ipaddr.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_DOMAIN = 39;
const IPPROTO_IP = 0;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const IP_TTL = 2;
const IP_MINTTL = 21;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MINHOPCOUNT = 73;
const TCP_MD5SIG = 14;
/** struct tcp_md5sig: sockaddr_storage (128), flags, prefixlen, keylen (u16), ifindex (i32), key[80]. */
const MD5SIG_SIZE = 216;
const MD5_KEY_OFFSET = 136;
/** TCP_MD5SIG_MAXKEYLEN: RFC 2385 keys longer than this cannot be set on Linux. */
export const MAX_MD5_KEY_BYTES = 80;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  close(fd: number): number;
}

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
/** koffi is loaded on first use only: a speaker without passwords or GTSM never needs its native part. */
function ffi(): Koffi {
  if (!koffiModule) {
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
    } catch (e) {
      throw new Error(`TCP-MD5 and GTSM need the koffi package (setsockopt through FFI): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return koffiModule;
}

let libc: Libc | undefined;
function c(): Libc {
  if (!libc) {
    const lib = ffi().load('libc.so.6');
    libc = {
      socket: lib.func('int socket(int, int, int)') as Libc['socket'],
      setsockopt: lib.func('int setsockopt(int, int, int, void *, uint32_t)') as Libc['setsockopt'],
      getsockopt: lib.func('int getsockopt(int, int, int, _Out_ void *, _Inout_ void *)') as Libc['getsockopt'],
      close: lib.func('int close(int)') as Libc['close'],
    };
  }
  return libc;
}

function check(rc: number, what: string): void {
  if (rc < 0) {
    const errno = ffi().errno();
    throw new Error(`${what} failed: ${errnoName(errno)}`);
  }
}

const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 13: 'EACCES', 22: 'EINVAL', 92: 'ENOPROTOOPT', 95: 'EOPNOTSUPP' };
const errnoName = (n: number): string => ERRNO[n] ?? `errno ${n}`;

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  check(c().setsockopt(fd, level, name, b, 4), what);
}

/** The address family of a socket (AF_INET or AF_INET6). */
function familyOf(fd: number): number {
  const v = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  check(c().getsockopt(fd, SOL_SOCKET, SO_DOMAIN, v, len), 'getsockopt(SO_DOMAIN)');
  return v.readInt32LE();
}

/** sockaddr for `address` on a socket of `family`: IPv4 peers of a dual-stack socket as v4-mapped. */
function writeSockaddr(b: Buffer, family: number, address: string): void {
  if (family === AF_INET) {
    if (!isIPv4(address)) throw new Error(`TCP-MD5: ${address} is not an IPv4 address (IPv4 socket)`);
    b.writeUInt16LE(AF_INET, 0);
    address.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
    return;
  }
  b.writeUInt16LE(AF_INET6, 0);
  const v6 = isIPv4(address) ? `::ffff:${address}` : address;
  if (!isIPv6(v6)) throw new Error(`TCP-MD5: ${address} is not an IP address`);
  Buffer.from(ipaddr.parse(v6).toByteArray()).copy(b, 8);
}

/**
 * Sets (or with no key, removes) the TCP-MD5 key for segments to and from `peer` on socket `fd`.
 * On a listening socket the key covers connections it accepts from that peer.
 */
export function setMd5Key(fd: number, peer: string, key: string | undefined): void {
  const k = Buffer.from(key ?? '', 'utf8');
  if (k.length > MAX_MD5_KEY_BYTES) throw new Error(`TCP-MD5 password for ${peer} is longer than ${MAX_MD5_KEY_BYTES} bytes`);
  const b = Buffer.alloc(MD5SIG_SIZE);
  writeSockaddr(b, familyOf(fd), peer);
  b.writeUInt16LE(k.length, 130);
  k.copy(b, MD5_KEY_OFFSET);
  const rc = c().setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, b, MD5SIG_SIZE);
  // Removing a key that was never set is not an error worth reporting.
  if (rc < 0 && !(k.length === 0 && ffi().errno() === 2)) check(rc, `setsockopt(TCP_MD5SIG) for ${peer}`);
}

/** GTSM: send with TTL 255 and drop segments that arrive with a TTL below 255 − (hops − 1). */
export function setTtlSecurity(fd: number, hops: number): void {
  const v6 = familyOf(fd) === AF_INET6;
  const min = 256 - Math.max(1, hops);
  setInt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, 255, 'setsockopt(TTL 255)');
  setInt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MINHOPCOUNT : IP_MINTTL, min, `setsockopt(minimum TTL ${min})`);
  // A v6 socket talking IPv4 (v4-mapped peer) uses the IPv4 options too; harmless otherwise.
  if (v6) {
    c().setsockopt(fd, IPPROTO_IP, IP_TTL, int32(255), 4);
    c().setsockopt(fd, IPPROTO_IP, IP_MINTTL, int32(min), 4);
  }
}

const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

interface HasFd {
  _handle?: { fd?: number } | null;
}

/** The file descriptor under a Node socket or server (libuv exposes it on the handle). */
export function fdOf(s: Socket | Server): number {
  const fd = (s as unknown as HasFd)._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}

export interface DialSecurity {
  password?: string;
  ttlSecurity?: number;
}

/**
 * An unconnected TCP socket for `peer` with the MD5 key and GTSM options already set (both must be
 * in place before the SYN). Call connect() on it as on any net.Socket.
 */
export function secureSocket(peer: string, sec: DialSecurity): Socket {
  const fd = c().socket(isIPv4(peer) ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd, 'socket()');
  try {
    if (sec.password !== undefined) setMd5Key(fd, peer, sec.password);
    if (sec.ttlSecurity) setTtlSecurity(fd, sec.ttlSecurity);
  } catch (e) {
    c().close(fd);
    throw e;
  }
  // manualStart: no read before connect (the fd is not connected yet).
  return new Socket({ fd, manualStart: true } as ConstructorParameters<typeof Socket>[0]);
}

/** The kernel's TCP-MD5 drop counters for this network namespace (TcpExt in /proc/net/netstat). */
export interface Md5Counters {
  /** Signed segments whose signature did not verify: the passwords differ. */
  failure: number;
  /** Unsigned segments from a peer we hold a key for: the peer has no password. */
  notFound: number;
  /** Signed segments from a peer we hold no key for: only the peer has a password. */
  unexpected: number;
}

export function readMd5Counters(): Md5Counters | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i].split(' ');
    const values = lines[i + 1].split(' ');
    const get = (n: string): number => Number(values[names.indexOf(n)] ?? 0);
    return { failure: get('TCPMD5Failure'), notFound: get('TCPMD5NotFound'), unexpected: get('TCPMD5Unexpected') };
  } catch {
    return undefined;
  }
}
