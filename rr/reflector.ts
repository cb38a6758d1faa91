// tortie-rr's composition: register this reflector as a Node (routeReflectorClusterID, label
// route-reflector=true) so nodes find it through BGPPeer selectors, then run the speaker from the
// datastore (bgp/datastore-driver: syncer → computeBgpConfig → setPeers). It programs no kernel
// routes: learned routes are only reflected. Status goes out on the same management API as the
// node's speaker, so `tortiectl node status --socket …` works against it.
import type { Logger } from 'pino';
import { startGobgpApi, type GobgpApiServer } from '../bgp/api/gobgp/server.js';
import type { BgpConfig } from '../bgp/config/types.js';
import { applyBgpConfig, BgpConfigWatcher, speakerIdentity } from '../bgp/datastore-driver.js';
import { Speaker } from '../bgp/speaker/index.js';
import type { Prefix, RouteSink } from '../bgp/types.js';
import { upsertNode } from '../node/register.js';
import type { Store } from '../datastore/store.js';
import type { RrConfig } from './env.js';

/** A reflector installs nothing: the sink only counts, for status. */
class CountingSink implements RouteSink {
  learned = 0;
  onRoute(e: Parameters<RouteSink['onRoute']>[0]): void {
    this.learned += e.type === 'install' ? 1 : -1;
  }
}

export class RouteReflector {
  private watcher?: BgpConfigWatcher;
  private speaker?: Speaker;
  private identity = '';
  private announced = new Map<string, Prefix>();
  private gobgpApi?: GobgpApiServer;
  private readonly sink = new CountingSink();
  private current?: BgpConfig;

  constructor(
    private readonly cfg: RrConfig,
    /** Owned by the reflector from now on: stop() closes it. */
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const c = this.cfg;
    await upsertNode(
      this.store,
      c.nodename,
      (spec) => {
        const bgp: Record<string, unknown> = { ...((spec.bgp as Record<string, unknown> | undefined) ?? {}), ipv4Address: `${c.ip}/32`, routeReflectorClusterID: c.clusterId };
        if (c.ip6) bgp.ipv6Address = `${c.ip6}/128`;
        if (c.asNumber !== undefined) bgp.asNumber = c.asNumber;
        return { ...spec, bgp };
      },
      c.labels,
    );
    // The base logger carries `node` already (a second one would repeat the key in the JSON line).
    this.log.info({ ip: c.ip, clusterId: c.clusterId }, 'registered as a route reflector');
    this.gobgpApi = await startGobgpApi({ speaker: () => this.speaker, log: this.log.child({ component: 'gobgp-api' }), hosts: c.gobgpApiHosts });
    this.watcher = new BgpConfigWatcher({ store: this.store, nodeName: c.nodename, log: this.log, onConfig: (cfg) => this.apply(cfg) });
    this.watcher.start();
  }

  private async apply(cfg: BgpConfig): Promise<void> {
    this.current = cfg;
    const id = speakerIdentity(cfg);
    if (this.speaker && id !== this.identity) {
      this.log.info('router id, AS, cluster id or listen port changed: restarting the speaker');
      await this.speaker.stop();
      this.speaker = undefined;
      this.announced.clear();
    }
    if (!this.speaker) {
      const listen = [cfg.ipv4Address, cfg.ipv6Address].filter((a): a is string => !!a);
      this.speaker = new Speaker(
        { asNumber: cfg.asNumber, routerId: cfg.routerId, clusterId: cfg.clusterId ?? this.cfg.clusterId, listenPort: cfg.listenPort, listenAddresses: listen, gracefulRestart: { restartTime: 120 }, mraiMs: this.cfg.mraiMs },
        this.sink,
        this.log.child({ component: 'bgp' }),
      );
      await this.speaker.start([]);
      this.gobgpApi?.track(); // route ages come from the new speaker's events
      this.identity = id;
      this.log.info({ routerId: cfg.routerId, asNumber: cfg.asNumber, clusterId: cfg.clusterId, port: cfg.listenPort, mraiMs: this.cfg.mraiMs }, 'BGP speaker started');
    }
    this.announced = applyBgpConfig(this.speaker, cfg, this.announced);
    this.log.info({ peers: cfg.peers.length, clients: cfg.peers.filter((p) => p.rrClient).length }, 'peers applied');
  }

  status(): { routesLearned: number; peers: number } {
    return { routesLearned: this.sink.learned, peers: this.speaker?.peerStatus().length ?? 0 };
  }

  /** Cease to every peer, then close the API and the datastore. */
  async stop(): Promise<void> {
    await this.watcher?.stop();
    await this.speaker?.stop();
    await this.gobgpApi?.close();
    await this.store.close();
  }
}
