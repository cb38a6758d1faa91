// tortie-node's composition: register the Node, make the default pool, then run felix (syncer →
// calc → dataplane) and the BGP speaker side by side. Stopping leaves the dataplane as it is.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Store, StoredObject } from '../datastore/store.js';
import { objectId, Syncer, type SyncEvent } from '../datastore/syncer.js';
import { Speaker } from '../bgp/speaker/index.js';
import type { BgpConfig } from '../bgp/config/types.js';
import { applyBgpConfig, BgpConfigWatcher } from '../bgp/datastore-driver.js';
import type { Prefix } from '../bgp/types.js';
import { startGobgpApi, type GobgpApiServer } from '../bgp/api/gobgp/server.js';
import { calculate } from '../felix/calc/calc.js';
import { LearnedRoutes } from '../felix/calc/bgp-routes.js';
import type { DesiredState } from '../felix/calc/types.js';
import { applyState } from '../felix/dataplane/apply.js';
import { NodePolicy, POLICY_KINDS, policySettings } from './policy.js';
import { RouteDriver } from '../felix/dataplane/routes.js';
import { IpamClient } from '../ipam/allocator.js';
import { autodetect } from './autodetect.js';
import { CniServer } from './cni-server.js';
import { learnedKeys, PendingSince } from './convergence.js';
import type { NodeConfig } from './env.js';
import { NodeMetrics, serveHealth } from './health.js';
import { ensureDefaultPool, randomMac, upsertNode } from './register.js';
import { detectRestart, type RestartDecision } from './restart.js';
import { buildView } from './view.js';
import type { FelixConfigurationSpec } from '../datastore/model/felix.js';
import { computeMtus, encapsulationsInUse, hostMtu, mtuSettings, tunnelMtuInput, type HostLink, type Mtus } from '../felix/mtu.js';
import { listHostLinks, writeMtuFile } from '../felix/dataplane/host-mtu.js';
import { hashRouterId } from '../bgp/config/generate.js';
import { kubeApiFromEnv, ServiceAdvertiser } from './services/advertiser.js';

export const DEFAULT_AS = 64512;
/** Longest a restarting node defers BGP selection waiting for its peers' End-of-RIB (BIRD's restart time). */
const GR_DEFERRAL_S = 120;
/** What routing reads (policy adds its kinds when enabled). */
export const ROUTING_KINDS = ['IPPool', 'Node', 'WorkloadEndpoint', 'IPAMBlock', 'BlockAffinity', 'FelixConfiguration'];

export class NodeAgent {
  private readonly cache = new Map<string, StoredObject>();
  private readonly learned = new LearnedRoutes();
  private readonly metrics = new NodeMetrics();
  private readonly routes = new RouteDriver();
  private policy?: NodePolicy;
  private syncer?: Syncer;
  private speaker?: Speaker;
  /** Calico's peer set for this node (bgp/config generator over the datastore): mesh, BGPPeers, RRs. */
  private bgpWatcher?: BgpConfigWatcher;
  private bgpCfg?: BgpConfig;
  /** Service IP advertisement (BGPConfiguration serviceClusterIPs/ExternalIPs/LoadBalancerIPs). */
  private services?: ServiceAdvertiser;
  private cni?: CniServer;
  private gobgpApi?: GobgpApiServer;
  private servers: Server[] = [];
  private inSync = false;
  private applied = false;
  private applying = false;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private address = '';
  /** The node's IPv6 address with its length (IP6 / IP6_AUTODETECTION_METHOD); '' when IPv6 is off. */
  private address6 = '';
  /** What we originate now (prefix string → prefix). */
  private announced = new Map<string, Prefix>();
  private stopped = false;
  private lastState?: DesiredState;
  /** Set at start when the kernel already holds our routes: we are restarting. */
  private restartDeadline = 0;
  /** What start found: a graceful restart (forwarding state in the kernel) or a cold start. */
  private restart: RestartDecision = { restarting: false, forwardingFamilies: [], reason: 'not decided yet' };
  /** Only the first speaker restarts gracefully; one made again for a new AS number starts cold. */
  private speakerStarts = 0;
  private learnedChangedAt = Date.now();
  /** Convergence telemetry: this node's endpoints and learned routes not yet in an applied dataplane. */
  private readonly endpointsPending = new PendingSince();
  private readonly learnedPending = new PendingSince();
  private learnedKnown = new Set<string>();
  /** First learned-route change since the last recalculation looked (undefined: none). */
  private learnedDirtySince?: number;
  /** The host's links as found at start (felix detects the host MTU once, at start). */
  private hostLinks: HostLink[] = [];
  private mtuReport = '';
  private mtuWritten?: number;

  constructor(
    private readonly cfg: NodeConfig,
    /** Owned by the agent from now on: stop() closes it. */
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.address = await this.resolveAddress(4);
    this.address6 = await this.resolveAddress(6);
    this.log.info({ node: this.cfg.nodename, address: this.address, address6: this.address6 }, 'starting');
    for (const [pool, family] of [[this.cfg.defaultPool, 4], [this.cfg.defaultPool6, 6]] as const) {
      const made = pool && (await ensureDefaultPool(this.store, pool, family));
      if (made) this.log.info({ cidr: made }, `created default IPv${family} pool`);
    }
    await upsertNode(this.store, this.cfg.nodename, (spec) => {
      const bgp = { ...((spec.bgp as Record<string, unknown> | undefined) ?? {}) };
      if (this.address) bgp.ipv4Address = this.address;
      if (this.address6) bgp.ipv6Address = this.address6;
      if (this.cfg.asNumber !== undefined) bgp.asNumber = this.cfg.asNumber;
      return { ...spec, bgp };
    });
    await this.ensureTunnelAddresses();
    this.hostLinks = await listHostLinks().catch((e: unknown) => {
      this.log.warn({ err: (e as Error).message }, 'cannot list the host interfaces; assuming the fallback host MTU');
      return [];
    });
    // A restart finds its own routes still in the kernel. Until BGP has re-learned the cluster's
    // routes, removing the old ones would cut live traffic: keep them through a bounded window, and
    // restart the speaker as RFC 4724's restarting speaker (R and F bits, selection deferred until
    // the peers' End-of-RIB) so the peers keep our routes meanwhile.
    if (this.cfg.backend === 'bird') {
      this.restart = detectRestart(this.cfg.backend, await this.routes.listRoutes());
      this.log.info({ restarting: this.restart.restarting, forwardingFamilies: this.restart.forwardingFamilies }, this.restart.reason);
      if (this.restart.restarting) this.restartDeadline = Date.now() + (GR_DEFERRAL_S + 60) * 1000;
    }

    this.servers.push(await serveHealth({ live: () => !this.stopped, ready: () => this.readiness() }, this.cfg.healthHost, this.cfg.healthPort));
    if (this.cfg.metricsPort) this.servers.push(await this.metrics.serve(this.cfg.healthHost, this.cfg.metricsPort));
    if (this.cfg.cniSocket) await this.serveCni();

    if (this.cfg.backend === 'bird' && (this.address || this.address6)) {
      await this.startSpeaker(this.cfg.asNumber ?? DEFAULT_AS);
      this.learned.onChange(() => {
        this.learnedChangedAt = Date.now();
        this.learnedDirtySince ??= this.learnedChangedAt;
        this.schedule();
      });
      this.bgpWatcher = new BgpConfigWatcher({ store: this.store, nodeName: this.cfg.nodename, log: this.log.child({ component: 'bgp-config' }), onConfig: (c) => this.onBgpConfig(c) });
      this.bgpWatcher.start();
      // Calico's route generator matches EndpointSlices by CALICO_K8S_NODE_REF, else the node name.
      const k8sNode = process.env.CALICO_K8S_NODE_REF || this.cfg.nodename;
      this.services = new ServiceAdvertiser({ store: this.store, api: kubeApiFromEnv(process.env, this.log), nodeName: k8sNode, log: this.log.child({ component: 'service-ips' }), onChange: () => this.schedule() });
      this.services.start();
      this.gobgpApi = await startGobgpApi({ speaker: () => this.speaker, log: this.log.child({ component: 'gobgp-api' }), hosts: this.cfg.gobgpApiHosts });
    }

    const pol = policySettings(this.cfg.felix);
    for (const e of pol.errors) this.log.warn(e);
    if (pol.enabled) this.policy = new NodePolicy(this.cfg.nodename, { ipv6: pol.ipv6, refreshMs: pol.refreshMs, onRefreshDue: () => this.schedule(), felix: this.cfg.felix });
    this.syncer = new Syncer({
      store: this.store,
      kinds: [...new Set([...ROUTING_KINDS, ...(this.policy ? POLICY_KINDS : [])])],
      onEvents: (evs) => this.onEvents(evs),
      onStatus: (s) => {
        this.log.info({ status: s }, 'datastore sync status');
        this.inSync = s === 'in-sync';
        this.metrics.inSync.set(this.inSync ? 1 : 0);
        if (this.inSync) this.schedule();
      },
      onError: (err, kind) => this.log.warn({ err: err.message, kind }, 'datastore watch failed; re-syncing'),
      onInvalid: (bad) => this.log.warn({ key: bad.where, kind: bad.key.kind, reason: bad.reason }, 'invalid value in the datastore skipped'),
    });
    this.syncer.start();
  }

  /**
   * Calico's MTUs for the pools' encapsulations and the FelixConfiguration in force; the pod MTU goes
   * to the MTU file for the CNI plugin whenever it changes.
   */
  private tunnelMtus(pools: readonly { cidr: string; ipipMode: string; vxlanMode: string }[]): ReturnType<typeof tunnelMtuInput> {
    const configs = [...this.cache.values()]
      .filter((o) => o.key.kind === 'FelixConfiguration')
      .map((o) => ({ name: o.key.name, spec: (o.value.spec ?? {}) as Partial<FelixConfigurationSpec> }));
    const { settings, errors } = mtuSettings(this.cfg.felix, configs, this.cfg.nodename);
    const host = hostMtu(this.hostLinks, new RegExp(settings.mtuIfacePattern));
    const m: Mtus = computeMtus(host.mtu, settings, encapsulationsInUse(pools));
    const report = JSON.stringify([host, m, errors]);
    if (report !== this.mtuReport) {
      this.mtuReport = report;
      for (const e of [...errors, ...m.warnings]) this.log.warn(e);
      this.log.info({ hostMtu: host.mtu, hostInterface: host.from ?? null, pattern: settings.mtuIfacePattern, podMtu: m.pod, ipipMtu: m.ipip, vxlanMtu: m.vxlan, vxlanMtuV6: m.vxlanV6 }, 'MTUs determined');
    }
    if (m.pod !== this.mtuWritten) {
      try {
        writeMtuFile(this.cfg.mtuFile, m.pod);
        this.mtuWritten = m.pod;
      } catch (e) {
        this.log.warn({ err: (e as Error).message, file: this.cfg.mtuFile }, 'cannot write the MTU file; pods get the CNI config\'s mtu or 1500');
      }
    }
    return tunnelMtuInput(m);
  }

  private async startSpeaker(asNumber: number): Promise<void> {
    const ip = this.address.split('/')[0] ?? '';
    const ip6 = this.address6.split('/')[0] ?? '';
    const restarting = this.restart.restarting && this.speakerStarts++ === 0;
    const gracefulRestart = restarting ? { restartTime: 120, restarting, forwardingFamilies: this.restart.forwardingFamilies, deferralTime: GR_DEFERRAL_S } : { restartTime: 120 };
    this.speaker = new Speaker(
      // Short connect retry: of each mesh pair one side is passive and waits for the other to dial
      // (Calico's rule), so a restarted node must not wait out RFC 4271's 120 s to be called back.
      // IPv6-only: the generator's router id (a hash of the node name), as Calico's "hash" default.
      { asNumber, routerId: ip || hashRouterId(this.cfg.nodename), listenPort: this.cfg.bgpPort, listenAddresses: [ip, ip6].filter(Boolean), connectRetryTime: 5, connectRetryMax: 30, gracefulRestart },
      this.learned,
      this.log.child({ component: 'bgp' }),
    );
    await this.speaker.start([]);
    this.gobgpApi?.track(); // route ages come from the new speaker's events
    this.announced = new Map();
  }

  /** The CNI plugins' fast path; without it they reach the datastore themselves (slowly). */
  private async serveCni(): Promise<void> {
    const cni = new CniServer({
      path: this.cfg.cniSocket,
      store: this.store,
      ipam: new IpamClient(this.store),
      log: this.log.child({ component: 'cni' }),
      observe: (op, ok, seconds) => this.metrics.cniSeconds.observe({ op, result: ok ? 'ok' : 'error' }, seconds),
      observeAssign: (how) => this.metrics.cniAssigns.inc({ how }),
    });
    try {
      await cni.start();
      this.cni = cni;
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e), socket: this.cfg.cniSocket }, 'cannot serve the CNI socket; the CNI plugins will use the datastore directly');
    }
  }

  /** A new peer set and export list from the generator; a changed AS number needs a new speaker (new OPENs). */
  private async onBgpConfig(c: BgpConfig): Promise<void> {
    this.bgpCfg = { ...c, peers: c.peers.map((p) => (p.port === undefined && this.cfg.bgpPort !== 179 ? { ...p, port: this.cfg.bgpPort } : p)) };
    if (this.speaker && c.asNumber !== this.speaker.config.asNumber) {
      this.log.info({ from: this.speaker.config.asNumber, to: c.asNumber }, 'AS number changed: restarting the BGP speaker');
      await this.speaker.stop();
      await this.startSpeaker(c.asNumber);
    }
    this.schedule();
  }

  private async resolveAddress(family: 4 | 6): Promise<string> {
    const ip = family === 4 ? this.cfg.ip : this.cfg.ip6;
    if (ip.kind === 'fixed') return ip.cidr;
    if (ip.kind === 'none') return '';
    const a = await autodetect(ip.method, family);
    const v = family === 4 ? 'IP' : 'IP6';
    if (!a) throw new Error(`${v} autodetection (${ip.method.kind}) found no IPv${family} address; set ${v} or ${v}_AUTODETECTION_METHOD`);
    return a.cidr;
  }

  /** Tunnel addresses come from the pools through IPAM (allowedUses Tunnel), like calico-node. */
  private async ensureTunnelAddresses(): Promise<void> {
    const ipam = new IpamClient(this.store);
    const pools = await ipam.listPools().catch(() => []);
    // Only the pools IPAM could parse: a malformed IPPool is skipped here as everywhere else.
    const usable = new Set(pools.map((p) => p.name));
    const poolsRaw = (await this.store.list('IPPool')).items
      .filter((o) => usable.has(o.key.name))
      .map((o) => o.value as { spec?: { cidr?: string; ipipMode?: string; vxlanMode?: string; disabled?: boolean } });
    const wants = (family: 4 | 6, m: 'vxlanMode' | 'ipipMode'): boolean =>
      poolsRaw.some((p) => String(p.spec?.cidr ?? '').includes(':') === (family === 6) && p.spec?.[m] && p.spec[m] !== 'Never' && !p.spec.disabled);
    const wantVxlan = wants(4, 'vxlanMode') && !!this.address;
    const wantVxlan6 = wants(6, 'vxlanMode') && !!this.address6;
    const wantIpip = this.cfg.backend === 'bird' && wants(4, 'ipipMode');
    if (!pools.length || (!wantVxlan && !wantVxlan6 && !wantIpip)) return;
    const node = (await upsertNode(this.store, this.cfg.nodename, (s) => s)) as Record<string, unknown> & { bgp?: { ipv4IPIPTunnelAddr?: string } };
    const assign = async (handle: string, family: 4 | 6, type = handle.split('-')[0] ?? ''): Promise<string | undefined> => {
      const r = await ipam.autoAssign({ handleId: handle, hostname: this.cfg.nodename, num4: family === 4 ? 1 : 0, num6: family === 6 ? 1 : 0, use: 'Tunnel', attrs: { node: this.cfg.nodename, type } });
      return (family === 4 ? r.ipv4 : r.ipv6)[0]?.ip;
    };
    // Calico's Node fields per family: ipv4VXLANTunnelAddr + vxlanTunnelMACAddr, ipv6VXLANTunnelAddr +
    // vxlanTunnelMACAddrV6; the IPv6 address under Calico's handle (node GC and `ipam check` know it).
    for (const [want, family, addrField, macField, handle, type] of [
      [wantVxlan, 4, 'ipv4VXLANTunnelAddr', 'vxlanTunnelMACAddr', 'vxlanTunnelAddress', 'vxlanTunnelAddress'],
      [wantVxlan6, 6, 'ipv6VXLANTunnelAddr', 'vxlanTunnelMACAddrV6', 'vxlan-v6-tunnel-addr', 'vxlanV6TunnelAddress'],
    ] as const) {
      if (!want) continue;
      if (!node[addrField]) {
        const ip = await assign(`${handle}-${this.cfg.nodename}`, family, type);
        if (ip) await upsertNode(this.store, this.cfg.nodename, (s) => ({ ...s, [addrField]: ip, [macField]: (s[macField] as string | undefined) ?? randomMac() }));
      } else if (!node[macField]) {
        await upsertNode(this.store, this.cfg.nodename, (s) => ({ ...s, [macField]: randomMac() }));
      }
    }
    if (wantIpip && !node.bgp?.ipv4IPIPTunnelAddr) {
      const ip = await assign(`ipipTunnelAddress-${this.cfg.nodename}`, 4);
      if (ip) await upsertNode(this.store, this.cfg.nodename, (s) => ({ ...s, bgp: { ...((s.bgp as object | undefined) ?? {}), ipv4IPIPTunnelAddr: ip } }));
    }
  }

  private onEvents(evs: SyncEvent[]): void {
    const now = Date.now();
    for (const e of evs) {
      const key = e.type === 'update' ? e.object.key : e.key;
      const id = objectId(key);
      if (key.kind === 'WorkloadEndpoint') this.noteEndpoint(id, e, now);
      if (e.type === 'update') this.cache.set(id, e.object);
      else this.cache.delete(id);
    }
    this.schedule();
  }

  /** Starts the convergence clock for a new or readdressed endpoint of this node. */
  private noteEndpoint(id: string, e: SyncEvent, now: number): void {
    if (e.type !== 'update') return this.endpointsPending.forget(id);
    const spec = (o: StoredObject | undefined): { node?: unknown; ipNetworks?: unknown } | undefined => {
      const s = o?.value.spec;
      return s && typeof s === 'object' ? (s as { node?: unknown; ipNetworks?: unknown }) : undefined;
    };
    const cur = spec(e.object);
    if (cur?.node !== this.cfg.nodename) return;
    if (JSON.stringify(spec(this.cache.get(id))?.ipNetworks) !== JSON.stringify(cur.ipNetworks)) this.endpointsPending.seen(id, now);
  }

  /** Starts the convergence clock for routes learned since the last look, from the first change among them. */
  private noteLearned(): void {
    if (this.learnedDirtySince === undefined) return;
    const cur = learnedKeys(this.learned.list());
    for (const k of cur) if (!this.learnedKnown.has(k)) this.learnedPending.seen(k, this.learnedDirtySince);
    for (const k of this.learnedKnown) if (!cur.has(k)) this.learnedPending.forget(k);
    this.learnedKnown = cur;
    this.learnedDirtySince = undefined;
  }

  /** Coalesces bursts of events into one recalculation. */
  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.recalc();
    }, 20);
  }

  private async recalc(): Promise<void> {
    if (this.applying) {
      this.dirty = true;
      return;
    }
    this.applying = true;
    const startedAt = Date.now();
    try {
      this.noteLearned();
      const view = buildView(this.cache.values());
      this.updateBgp();
      // No kernel change before the first in-sync: a partial view would delete good routes.
      if (!this.inSync) return;
      const desired = calculate({
        hostname: this.cfg.nodename,
        nodes: view.nodes,
        pools: view.pools,
        blocks: view.blocks,
        endpoints: view.endpoints,
        // As Calico's BIRD kernel filter: routes inside the service ranges are advertised, not programmed.
        bgpRoutes: this.learned.list().filter((r) => !this.services?.inRanges(r.dst)),
        ...this.tunnelMtus(view.pools),
      });
      const end = this.metrics.applySeconds.startTimer();
      const keep = this.restartWindowOpen();
      const rep = await applyState(desired, this.routes, keep);
      // Policy after routes, in the same round: a new pod's chains follow its route within ms.
      if (this.policy) {
        const pr = await this.policy.apply(this.cache.values());
        rep.errors.push(...pr.errors);
        if (pr.problems.length) this.log.warn({ problems: pr.problems }, 'policy resources skipped');
        const changed = [pr.v4, pr.v6].some((r) => r && r.transactions > 0);
        if (changed) this.log.info({ v4: pr.v4, v6: pr.v6 }, 'policy dataplane updated');
      }
      if (keep) setTimeout(() => this.schedule(), 1000).unref();
      end();
      this.lastState = desired;
      this.metrics.routes.set(desired.routes.length);
      this.metrics.applyErrors.inc(rep.errors.length);
      if (rep.errors.length) this.log.warn({ errors: rep.errors }, 'dataplane apply had errors; will retry');
      if (rep.routes.added || rep.routes.removed) this.log.info({ added: rep.routes.added, removed: rep.routes.removed }, 'routes updated');
      this.applied = true;
      if (rep.errors.length) setTimeout(() => this.schedule(), 1000).unref();
      else {
        const now = Date.now();
        for (const s of this.endpointsPending.programmed(startedAt, now)) this.metrics.endpointConvergence.observe(s);
        for (const s of this.learnedPending.programmed(startedAt, now)) this.metrics.learnedConvergence.observe(s);
      }
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'recalculation failed; will retry');
      setTimeout(() => this.schedule(), 1000).unref();
    } finally {
      this.applying = false;
      if (this.dirty) {
        this.dirty = false;
        this.schedule();
      }
    }
  }

  /**
   * Peers and exports as the generator computed them (once it has a datastore view): own blocks
   * in enabled pools, borrowed addresses as /32s, prefixAdvertisements communities.
   */
  private updateBgp(): void {
    if (!this.speaker) return;
    if (this.bgpCfg) {
      // Service prefixes beside the generator's exports (a pool's prefixAdvertisements entry wins a tie).
      const svc = (this.services?.prefixes() ?? []).map((prefix) => ({ prefix, communities: [], largeCommunities: [] }));
      this.announced = applyBgpConfig(this.speaker, { ...this.bgpCfg, exports: [...svc, ...this.bgpCfg.exports] }, this.announced);
    }
    const st = this.speaker.peerStatus();
    this.metrics.sessions.reset();
    for (const p of st) this.metrics.sessions.inc({ state: p.state });
    this.metrics.learned.set(this.learned.list().length);
  }

  /**
   * Restart window: open while the speaker defers selection (until its peers' End-of-RIB, the
   * moment it knows the whole table) and then until learned routes were quiet for 2 s; at most
   * the deferral time plus 60 s.
   */
  private restartWindowOpen(): boolean {
    if (!this.restartDeadline) return false;
    const settled = !!this.speaker && !this.speaker.selectionDeferred && Date.now() - this.learnedChangedAt > 2000;
    if (settled || Date.now() > this.restartDeadline) {
      this.restartDeadline = 0;
      this.log.info({ settled }, 'restart window closed: stale routes may now be removed');
      return false;
    }
    return true;
  }

  readiness(): { ok: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.inSync) reasons.push('datastore not in sync');
    if (!this.applied) reasons.push('dataplane not programmed yet');
    if (this.speaker) {
      const down = this.speaker.peerStatus().filter((p) => p.state !== 'Established');
      if (down.length) reasons.push(`BGP not established with ${down.map((p) => p.address).join(', ')}`);
      // As calico-node -bird-ready: not ready while BIRD's graceful restart recovery is in progress.
      if (this.speaker.selectionDeferred) reasons.push('BGP graceful restart in progress (waiting for End-of-RIB from peers)');
      // Keep session metrics fresh for scrapes between recalculations.
      this.metrics.sessions.reset();
      for (const p of this.speaker.peerStatus()) this.metrics.sessions.inc({ state: p.state });
    }
    return { ok: reasons.length === 0, reasons };
  }

  status(): { node: string; address: string; inSync: boolean; peers: unknown[]; routes: number } {
    return { node: this.cfg.nodename, address: this.address, inSync: this.inSync, peers: this.speaker?.peerStatus() ?? [], routes: this.lastState?.routes.length ?? 0 };
  }

  /** Stops everything but leaves routes, tunnels and NAT in the kernel (a restart reconciles). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.syncer?.stop();
    await this.bgpWatcher?.stop();
    await this.services?.stop();
    await this.cni?.stop();
    await this.gobgpApi?.close();
    await this.speaker?.stop();
    for (const s of this.servers) await new Promise<void>((r) => s.close(() => r()));
    this.policy?.stop();
    this.routes.close();
    await this.store.close();
  }
}
