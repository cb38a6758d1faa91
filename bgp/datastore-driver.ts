// Drives a Speaker from the datastore: a syncer over the resources the Calico generator reads,
// computeBgpConfig on every (coalesced) change, then setPeers() and the exported prefixes applied
// to the speaker. Shared by tortie-rr and anything else that runs the speaker from the datastore; the rules
// themselves stay in the pure generator.
import type { Logger } from 'pino';
import type { Store, StoredObject } from '../datastore/store.js';
import { objectId, Syncer, type SyncStatus } from '../datastore/syncer.js';
import { computeBgpConfig } from './config/generate.js';
import { BGP_CONFIG_KINDS, bgpInputFromObjects } from './config/from-datastore.js';
import { kubeSecretReader, resolvePasswords, type SecretReader } from './config/secrets.js';
import type { BgpConfig } from './config/types.js';
import type { Speaker } from './speaker/index.js';
import { prefixToString, type Prefix } from './types.js';

export interface BgpConfigWatcherOptions {
  store: Store;
  nodeName: string;
  log: Logger;
  /** Called with each new configuration once the datastore is in sync (never with a partial view). */
  onConfig(cfg: BgpConfig): void | Promise<void>;
  /** Coalescing window for bursts of datastore events, ms (default 50). */
  debounceMs?: number;
  /** Where BGP passwords are read (default: the Kubernetes API from the environment, if any). */
  secrets?: SecretReader;
  /** How often referenced Secrets are read again, so a changed password applies (default 10 s). */
  secretRefreshMs?: number;
}

export class BgpConfigWatcher {
  private readonly cache = new Map<string, StoredObject>();
  private syncer?: Syncer;
  private inSync = false;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private lastKey = '';
  private stopped = false;
  private refreshTimer?: NodeJS.Timeout;
  private lastPasswordNotes = '';
  private readonly secrets: SecretReader | undefined;

  constructor(private readonly o: BgpConfigWatcherOptions) {
    this.secrets = o.secrets ?? kubeSecretReader();
  }

  get synced(): boolean {
    return this.inSync;
  }

  start(): void {
    this.syncer = new Syncer({
      store: this.o.store,
      kinds: [...BGP_CONFIG_KINDS],
      onEvents: (evs) => {
        for (const e of evs) {
          if (e.type === 'update') this.cache.set(objectId(e.object.key), e.object);
          else this.cache.delete(objectId(e.key));
        }
        this.schedule();
      },
      onStatus: (s: SyncStatus) => {
        this.o.log.info({ status: s }, 'datastore sync status');
        this.inSync = s === 'in-sync';
        if (this.inSync) this.schedule();
      },
      onError: (err, kind) => this.o.log.warn({ err: err.message, kind }, 'datastore watch failed; re-syncing'),
      onInvalid: (bad) => this.o.log.warn({ key: bad.where, kind: bad.key.kind, reason: bad.reason }, 'invalid value in the datastore skipped'),
    });
    this.syncer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    await this.syncer?.stop();
  }

  /** The configuration from the current cache (also for status output). */
  compute(): BgpConfig {
    const { input, problems } = bgpInputFromObjects(this.o.nodeName, this.cache.values());
    const cfg = computeBgpConfig(input);
    return problems.length ? { ...cfg, notes: [...cfg.notes, ...problems] } : cfg;
  }

  /** Reads the passwords the peers reference; while any does, reads them again every secretRefreshMs. */
  private async withPasswords(cfg: BgpConfig): Promise<BgpConfig> {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (!cfg.peers.some((p) => p.passwordRef)) return cfg;
    if (this.secrets && !this.stopped) {
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined;
        this.schedule();
      }, this.o.secretRefreshMs ?? 10_000);
      this.refreshTimer.unref();
    }
    const r = await resolvePasswords(cfg.peers, this.secrets);
    const warned = r.notes.join('\n');
    if (warned && warned !== this.lastPasswordNotes) this.o.log.warn({ notes: r.notes }, 'BGP passwords cannot be used');
    this.lastPasswordNotes = warned;
    return { ...cfg, peers: r.peers, notes: [...cfg.notes, ...r.notes] };
  }

  private schedule(): void {
    if (this.stopped || this.timer || !this.inSync) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, this.o.debounceMs ?? 50);
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      let cfg: BgpConfig;
      try {
        cfg = this.compute();
      } catch (e) {
        // A bad selector in one BGPPeer: keep the current peers rather than tearing sessions down.
        this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, 'cannot compute BGP configuration; keeping the current one');
        return;
      }
      cfg = await this.withPasswords(cfg);
      const key = JSON.stringify(cfg);
      if (key === this.lastKey) return;
      this.lastKey = key;
      if (cfg.notes.length) this.o.log.info({ notes: cfg.notes }, 'BGP configuration notes');
      await this.o.onConfig(cfg);
    } catch (e) {
      this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, 'applying BGP configuration failed; will retry');
      this.lastKey = '';
      setTimeout(() => this.schedule(), 1000).unref();
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }
}

/** The speaker identity a configuration needs; a change means a new speaker (new OPENs for everyone). */
export function speakerIdentity(cfg: BgpConfig): string {
  return JSON.stringify([cfg.asNumber, cfg.routerId, cfg.listenPort, cfg.clusterId ?? '', cfg.ipv4Address ?? '', cfg.ipv6Address ?? '']);
}

/**
 * Applies peers and exports to a running speaker. `announced` is what we originated before
 * (prefix string → prefix); returns the new set.
 */
export function applyBgpConfig(speaker: Speaker, cfg: BgpConfig, announced: ReadonlyMap<string, Prefix>): Map<string, Prefix> {
  // As BIRD's per-family protocols: an IPv4 peering carries IPv4 routes, an IPv6 peering IPv6 ones.
  speaker.setPeers(cfg.peers.map(({ family, source: _s, passwordRef: _r, ...p }) => ({ ...p, families: [family] })));
  const want = new Map(cfg.exports.map((e) => [prefixToString(e.prefix), e]));
  const gone = [...announced].filter(([k]) => !want.has(k)).map(([, p]) => p);
  if (gone.length) speaker.withdraw(gone);
  // Every wanted prefix, also those announced before: their communities may have changed
  // (prefixAdvertisements). An unchanged one interns to the same path: nothing is sent.
  for (const e of want.values()) {
    speaker.announce([e.prefix], {
      ...(e.communities.length ? { communities: e.communities } : {}),
      ...(e.largeCommunities.length ? { largeCommunities: e.largeCommunities } : {}),
    });
  }
  return new Map([...want].map(([k, e]) => [k, e.prefix]));
}
