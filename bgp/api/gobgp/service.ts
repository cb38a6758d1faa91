// GoBGP v3's service definition (apipb.GobgpApi from the gobgp 3.10 protos in bgp/api/proto),
// shared by the server and Tortie's own client (tortiectl node status, the lab, the tests).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Tortie's one extension, invisible to GoBGP tools: a ListPeer call whose metadata carries
 * PEER_STATUS_REQUEST gets, in its trailers, what calicoctl's node status shows and GoBGP's Peer
 * has no field for (Calico peer type, the reason a session is down, since when).
 */
export const PEER_STATUS_REQUEST = 'tortie-peer-status';
export const PEER_STATUS_TRAILER = 'tortie-peer-status-bin';

function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // Source tree (bgp/api/gobgp → bgp/api/proto), the build (dist/bgp/api/gobgp → repo/bgp/api/proto)
  // or a bundle (build/*.mjs → build/proto, copied there by images/bundle.ts).
  for (const d of [join(here, '..', 'proto'), join(here, '..', '..', '..', '..', 'bgp', 'api', 'proto'), join(here, 'proto')]) if (existsSync(join(d, 'gobgp.proto'))) return d;
  throw new Error(`GoBGP API protos not found next to ${here}`);
}

let cachedService: grpc.ServiceDefinition | undefined;
/** The service definition, loaded once: all three files, or Any values cannot be (un)packed. */
export function gobgpService(): grpc.ServiceDefinition {
  if (cachedService) return cachedService;
  const dir = protoDir();
  const def = protoLoader.loadSync(['gobgp.proto', 'attribute.proto', 'capability.proto'], {
    includeDirs: [dir],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    json: true,
  });
  const svc = (grpc.loadPackageDefinition(def).apipb as grpc.GrpcObject).GobgpApi as grpc.ServiceClientConstructor;
  cachedService = svc.service;
  return cachedService;
}

