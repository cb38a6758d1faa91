// The speaker's listeners: passive TCP on port 179 (or the configured one), with the TCP-MD5 key of
// each configured peer set on every listening socket, and GTSM applied to accepted connections.
import { createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { fdOf, setMd5Key, setTtlSecurity } from '../net/tcp-security.js';
import { normalizeAddress, type Peer } from './peer.js';

export class Listeners {
  private readonly servers: Server[] = [];

  constructor(private readonly log: Logger) {}

  /** Listens on every address; `peerOf` names the configured peer of a remote address (undefined: refuse). */
  async listen(port: number, addresses: readonly string[], peerOf: (address: string) => Peer | undefined): Promise<void> {
    for (const host of addresses) {
      const srv = createServer((s) => this.accept(s, peerOf));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port, host }, () => resolve());
      });
      srv.on('error', (err) => this.log.error({ err }, 'BGP listener error'));
      this.servers.push(srv);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
  }

  /** The TCP-MD5 key for connections the listeners accept from `addr` (undefined: none). */
  setKey(addr: string, password: string | undefined): void {
    for (const srv of this.servers) {
      const host = (srv.address() as AddressInfo | null)?.address ?? '';
      // An IPv4 listener cannot hold a key for an IPv6 peer (nor the other way round, but '::' takes both).
      if (isIP(host) !== 6 && isIP(addr) === 6) continue;
      try {
        setMd5Key(fdOf(srv), addr, password);
      } catch (err) {
        this.log.error({ peer: addr, err }, 'cannot set the TCP-MD5 key for accepted connections');
      }
    }
  }

  private accept(socket: Socket, peerOf: (address: string) => Peer | undefined): void {
    const remote = normalizeAddress(socket.remoteAddress ?? '');
    const p = peerOf(remote);
    if (!p) {
      this.log.info({ remote }, 'refusing BGP connection from an unconfigured address');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if (p.config.ttlSecurity) {
      try {
        setTtlSecurity(fdOf(socket), p.config.ttlSecurity);
      } catch (err) {
        this.log.error({ remote, err }, 'cannot set GTSM on an accepted connection: refusing it');
        socket.destroy();
        return;
      }
    }
    p.session.accept(socket);
  }
}
