// tortie-rr: the standalone route reflector (calico/routereflector's job), configured by env:
// IP, CLUSTER_ID, AS, NODENAME, ETCD_ENDPOINTS / ETCD_*_FILE, TORTIE_GOBGP_API_HOSTS, TORTIE_MRAI_MS, LOG_LEVEL.
// SIGTERM/SIGINT send Cease to every peer and exit 0.
import { pino } from 'pino';
import { configFromEnv } from '../datastore/config.js';
import { createStore } from '../datastore/backends/index.js';
import { parseRrEnv } from './env.js';
import { RouteReflector } from './reflector.js';

async function main(): Promise<void> {
  const parsed = parseRrEnv(process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`tortie-rr: ${e}\n`);
    process.exit(2);
  }
  const cfg = parsed.config;
  const log = pino({ level: cfg.logLevel === 'warning' ? 'warn' : cfg.logLevel, base: { node: cfg.nodename } });
  let rr: RouteReflector;
  try {
    rr = new RouteReflector(cfg, await createStore(configFromEnv(process.env)), log);
  } catch (e) {
    process.stderr.write(`tortie-rr: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    rr.stop().then(
      // Give the Cease NOTIFICATIONs a moment on the wire.
      () => setTimeout(() => process.exit(0), 200),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await rr.start();
  } catch (e) {
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'start failed');
    process.exit(1);
  }
}

void main();
