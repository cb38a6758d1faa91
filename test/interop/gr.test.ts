// Graceful restart with us as the restarting speaker: SIGKILL our speaker while BIRD is its
// helper → BIRD keeps our routes (stale) through the restart; the restarted speaker advertises
// R + forwarding state, defers selection until BIRD's End-of-RIB, then refreshes the routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;

describe('interop: graceful restart, BIRD as helper', () => {
  let lab: BgpLab;
  let bird: Bird;
  let speaker: SpeakerProc;
  let me: LabMember;
  let b: LabMember;
  let cfg: SpeakerFileConfig;

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'gr', members: 2 });
    [me, b] = lab.members;
    bird = await Bird.start(b.ns, `router id ${b.ipv4};
protocol device {}
protocol static s4 { ipv4; route 192.0.2.0/24 blackhole; }
protocol bgp tortie { local ${b.ipv4} as ${AS}; neighbor ${me.ipv4} as ${AS}; hold time 9; connect retry time 1;
  error wait time 1,2; graceful restart on; graceful restart time 60; ipv4 { import all; export all; next hop self; }; }
`);
    cfg = {
      asNumber: AS,
      routerId: me.ipv4,
      families: [4],
      ...SHORT_TIMERS,
      gracefulRestart: { restartTime: 60 },
      peers: [{ address: b.ipv4, asNumber: AS, type: 'global' }],
      originate: [{ prefix: '10.40.1.0/26', communities: ['64512:40'] }],
    };
    speaker = await SpeakerProc.start(me.ns, cfg);
  });

  afterAll(() => stopEach(speaker, bird, lab));

  it('BIRD keeps our routes as stale while we are dead and refreshes them after restart', async () => {
    await waitPeerState(speaker, b.ipv4, 'Established');
    await waitFor('10.40.1.0/26 in BIRD', async () => (await bird.routes()).find((r) => r.prefix === '10.40.1.0/26'));
    await speaker.kill('SIGKILL');
    await waitFor('BIRD notices', async () => ((await bird.protocol('tortie'))?.info !== 'Established' ? true : undefined), 20_000);
    // Still there, though its speaker is gone: BIRD is helping us restart.
    const stale = (await bird.routes()).find((r) => r.prefix === '10.40.1.0/26');
    expect(stale).toBeDefined();
    const show = await bird.cmd('show protocols all tortie');
    expect(show).toMatch(/Neighbor graceful restart active/);

    speaker.reconfigure({ ...cfg, gracefulRestart: { restartTime: 60, restarting: true, deferralTime: 30 } });
    await speaker.start();
    await waitPeerState(speaker, b.ipv4, 'Established', 30_000);
    await bird.waitEstablished('tortie', 20_000);
    // Our deferred selection ends with BIRD's End-of-RIB; its routes are ours again.
    await waitFor('BIRD route installed after restart', async () => ((await speaker.installed()).some((i) => i.prefix === '192.0.2.0/24') ? true : undefined), 30_000);
    await waitFor('graceful restart finished in BIRD', async () => (/graceful restart active/i.test(await bird.cmd('show protocols all tortie')) ? undefined : true), 30_000);
    const r = (await bird.routes()).find((x) => x.prefix === '10.40.1.0/26');
    expect(r?.attrs['BGP.community']).toBe('(64512,40)');
    expect(speaker.log()).toMatch(/graceful restart: running route selection/);
  });

  it('a speaker that comes back without our prefix makes BIRD drop it at End-of-RIB', async () => {
    await speaker.kill('SIGKILL');
    await waitFor('BIRD notices', async () => ((await bird.protocol('tortie'))?.info !== 'Established' ? true : undefined), 20_000);
    expect((await bird.routes()).some((r) => r.prefix === '10.40.1.0/26')).toBe(true);
    speaker.reconfigure({ ...cfg, originate: [], gracefulRestart: { restartTime: 60, restarting: true, deferralTime: 30 } });
    await speaker.start();
    await waitPeerState(speaker, b.ipv4, 'Established', 30_000);
    await waitFor('stale route flushed', async () => ((await bird.routes()).some((r) => r.prefix === '10.40.1.0/26') ? undefined : true), 30_000);
  });
});
