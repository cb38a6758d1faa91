// Standalone BGP speaker: `node dist/bgp/cli.js CONFIG.json` (tests run it under `ip netns exec`).
// SIGHUP re-reads the file (peers diffed, originated prefixes announced/withdrawn);
// SIGTERM/SIGINT stop cleanly with Cease/Administrative Shutdown. Route-sink events are logged
// (the agent wires felix here instead); the GoBGP API (TORTIE_GOBGP_API_HOSTS) shows the table.
import { readFileSync } from 'node:fs';
import { destination, pino } from 'pino';
import { parseApiHosts } from './api/gobgp/hosts.js';
import { Speaker } from './speaker/index.js';
import { originatedRoutes, parseFileConfig, peerConfigs, speakerConfig, type FileConfig } from './speaker/file-config.js';
import { prefixToString, type RouteSinkEvent } from './types.js';

function load(path: string): FileConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${String(err)}`);
  }
  const r = parseFileConfig(json);
  if (!r.ok) throw new Error(`${path}: ${r.error}`);
  return r.config;
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write('usage: tortie-bgp CONFIG.json\n');
    process.exit(2);
  }
  let cfg: FileConfig;
  try {
    cfg = load(path);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  const log = pino({ level: cfg.logLevel ?? 'info' }, destination(2));
  const sink = {
    onRoute(ev: RouteSinkEvent): void {
      if (log.isLevelEnabled('debug')) log.debug({ route: prefixToString(ev.prefix), event: ev.type, peer: ev.sourcePeer }, 'route sink');
    },
  };
  const speaker = new Speaker(speakerConfig(cfg), sink, log);
  await speaker.start(peerConfigs(cfg));
  let current = originatedRoutes(cfg);
  for (const r of current) speaker.announce([r.prefix], r.attrs);
  // The GoBGP API only when asked for: several standalone speakers may share a namespace.
  const hosts = process.env.TORTIE_GOBGP_API_HOSTS ? parseApiHosts(process.env.TORTIE_GOBGP_API_HOSTS) : { hosts: [] };
  if ('error' in hosts) log.error(hosts.error);
  // Loaded only when asked for: gRPC and the GoBGP protos cost about 11 MB of RSS.
  const gobgpApi = 'hosts' in hosts && hosts.hosts.length ? await (await import('./api/gobgp/server.js')).startGobgpApi({ speaker: () => speaker, log, hosts: hosts.hosts }) : undefined;
  log.info({ routerId: cfg.routerId, asNumber: cfg.asNumber, peers: cfg.peers.length }, 'BGP speaker started');

  process.on('SIGHUP', () => {
    try {
      const next = load(path);
      speaker.setPeers(peerConfigs(next));
      const nextRoutes = originatedRoutes(next);
      const keep = new Set(nextRoutes.map((r) => prefixToString(r.prefix)));
      speaker.withdraw(current.filter((r) => !keep.has(prefixToString(r.prefix))).map((r) => r.prefix));
      for (const r of nextRoutes) speaker.announce([r.prefix], r.attrs);
      current = nextRoutes;
      log.info('configuration reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload failed; keeping the running configuration');
    }
  });
  const shutdown = async (): Promise<void> => {
    await speaker.stop();
    await gobgpApi?.close();
    // Give the Cease NOTIFICATIONs a moment on the wire.
    setTimeout(() => process.exit(0), 200);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  process.stderr.write(`tortie-bgp: ${String(err)}\n`);
  process.exit(1);
});
