// Management endpoint inside the BGP process: HTTP on a unix socket serving JSON.
//   GET /status  → { process: 'running', routerId, asNumber, startedAt }
//   GET /peers   → PeerStatus[]
//   GET /routes  → RouteStatus[] (Adj-RIB-In of every peer plus our own, best flagged)
//   GET /installed → routes handed to the route sink (what felix was told to program)
// Read-only by design: configuration comes from the datastore, not from this socket.
import { createServer, type Server } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PeerStatus, RouteStatus } from '../speaker/types.js';

export const DEFAULT_API_SOCKET = '/var/run/tortie/bgp.sock';

export interface ProcessStatus {
  process: 'running';
  routerId: string;
  asNumber: number;
  startedAt: string;
}

export interface InstalledRoute {
  prefix: string;
  nextHops: string[];
  sourcePeer: string;
}

export interface StatusProvider {
  status(): ProcessStatus;
  peers(): PeerStatus[];
  routes(): RouteStatus[];
  installed(): InstalledRoute[];
}

export interface ApiServer {
  path: string;
  close(): Promise<void>;
}

export async function startApiServer(provider: StatusProvider, path = DEFAULT_API_SOCKET): Promise<ApiServer> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true }); // a stale socket from a killed process would block listen()
  const server: Server = createServer((req, res) => {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET') return send(405, { error: 'only GET is supported' });
    const url = (req.url ?? '/').split('?')[0];
    try {
      switch (url) {
        case '/status':
          return send(200, provider.status());
        case '/peers':
          return send(200, provider.peers());
        case '/routes':
          return send(200, provider.routes());
        case '/installed':
          return send(200, provider.installed());
        default:
          return send(404, { error: `unknown path ${url}; try /status, /peers, /routes, /installed` });
      }
    } catch (err) {
      return send(500, { error: String(err) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(path, { force: true });
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
