// tortie-node: the per-host agent (calico-node's job): Calico env names, JSON logs, health on
// 127.0.0.1:9099, metrics on 9091; SIGTERM stops it and leaves the dataplane in place.
import { hostname } from 'node:os';
import { pino } from 'pino';
import { configFromEnv } from '../datastore/config.js';
import { createStore } from '../datastore/backends/index.js';
import { IPAM_CONFIG_KINDS } from '../ipam/allocator.js';
import { NodeAgent } from './agent.js';
import { parseNodeEnv } from './env.js';

async function main(): Promise<void> {
  const parsed = parseNodeEnv(process.env, hostname());
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`tortie-node: ${e}\n`);
    process.exit(2);
  }
  const cfg = parsed.config;
  const log = pino({ level: cfg.logLevel === 'warning' ? 'warn' : cfg.logLevel, base: { node: cfg.nodename } });
  // Every pod's ADD reads the pools and reservations: on Kubernetes this agent keeps them watched.
  const agent = new NodeAgent(cfg, await createStore(configFromEnv(process.env), { watchCache: IPAM_CONFIG_KINDS }), log);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping; dataplane left in place');
    agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
  } catch (e) {
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'start failed');
    process.exit(1);
  }
}

void main();
