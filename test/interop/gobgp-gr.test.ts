// Graceful restart with the N bit (RFC 8538) against GoBGP 3 (`notification-enabled`): once both
// sides set N, a session ended by a NOTIFICATION other than Hard Reset is a graceful restart — here
// our hold timer expiring on a SIGSTOPped gobgpd: we keep its routes as stale and refresh them when
// it is back. De-configuring the peer sends Cease / Hard Reset, which makes GoBGP drop our routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { run } from '../harness/exec.js';
import { Gobgp, gobgpConfig } from '../harness/gobgp.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;

describe('interop: GoBGP 3, graceful restart with the N bit', () => {
  let lab: BgpLab;
  let gobgp: Gobgp;
  let speaker: SpeakerProc;
  let cfg: SpeakerFileConfig;
  let me: LabMember;
  let g: LabMember;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'gn', members: 2, v4Base: '10.79.0', v6Base: 'fd79::' });
    [me, g] = lab.members;
    gobgp = await Gobgp.start(
      g.ns,
      gobgpConfig({
        as: AS,
        routerId: g.ipv4,
        neighbors: [{ address: me.ipv4, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 2, gracefulRestart: { restartTime: 60, notification: true }, families: ['ipv4-unicast'] }],
      }),
    );
    cfg = {
      asNumber: AS,
      routerId: me.ipv4,
      families: [4],
      ...SHORT_TIMERS,
      connectRetryMax: 4,
      gracefulRestart: { restartTime: 60 },
      peers: [{ address: g.ipv4, asNumber: AS, type: 'global' }],
      originate: [{ prefix: '10.79.64.0/26' }],
    };
    // The GoBGP API on the namespace's loopback: the stock `gobgp` CLI shows the stale mark too.
    speaker = await SpeakerProc.start(me.ns, cfg, { TORTIE_GOBGP_API_HOSTS: '127.0.0.1:50051' });
  });

  afterAll(() => stopEach(speaker, gobgp, lab));

  it('routes flow both ways', async () => {
    await waitPeerState(speaker, g.ipv4, 'Established');
    await gobgp.cli(['global', 'rib', 'add', '192.0.2.0/24', '-a', 'ipv4']);
    await waitFor('GoBGP route installed', async () => (await speaker.installed()).find((i) => i.prefix === '192.0.2.0/24'));
    await waitFor('our route at GoBGP', async () => (await gobgp.rib())['10.79.64.0/26']);
  });

  it('hold timer expiry on a frozen GoBGP keeps its routes as stale (N bit), refreshed after SIGCONT', async () => {
    gobgp.signal('SIGSTOP');
    try {
      await waitFor('hold timer expiry', async () => ((await speaker.peer(g.ipv4))?.state !== 'Established' ? true : undefined), 20_000);
      expect((await speaker.peer(g.ipv4))?.info).toMatch(/hold timer expired/);
      const r = (await speaker.routes()).find((x) => x.prefix === '192.0.2.0/24' && x.source === g.ipv4);
      expect(r).toMatchObject({ stale: true, best: true });
      // The CLI marks it S, and its age goes on (a stale copy is the same route, as in gobgpd).
      const { stdout } = await run('ip', ['netns', 'exec', me.ns, 'gobgp', 'global', 'rib']);
      expect(stdout).toMatch(/^S\*> ?192\.0\.2\.0\/24 /m);
      expect(stdout).not.toMatch(/192\.0\.2\.0\/24 .* 00:00:00 /);
      expect((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24')).toBe(true);
      expect(speaker.log()).toMatch(/peer restarting: keeping its routes as stale/);
    } finally {
      gobgp.signal('SIGCONT');
    }
    await waitPeerState(speaker, g.ipv4, 'Established', 40_000);
    await waitFor('refreshed, not stale', async () => {
      const r = (await speaker.routes()).find((x) => x.prefix === '192.0.2.0/24' && x.source === g.ipv4);
      return r && !r.stale ? r : undefined;
    }, 30_000);
  });

  it('de-configuring GoBGP sends Cease / Hard Reset and GoBGP drops our routes at once', async () => {
    await waitPeerState(speaker, g.ipv4, 'Established');
    await waitFor('our route at GoBGP', async () => (await gobgp.rib())['10.79.64.0/26']);
    speaker.reconfigure({ ...cfg, peers: [] });
    await waitFor('Hard Reset sent', async () => (/sending NOTIFICATION: Cease \/ Hard Reset/.test(speaker.log()) ? true : undefined), 20_000);
    await waitFor('GoBGP dropped our route', async () => ((await gobgp.rib())['10.79.64.0/26'] ? undefined : true), 20_000);
  });
});
