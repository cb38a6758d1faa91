// TCP-MD5 (RFC 2385) with real peers: BIRD 2 and GoBGP 3 configured with `password`. The key is on
// our dialled sockets (GoBGP is passive, so we dial) and on our listener for accepted ones (we are
// passive towards BIRD). A wrong or missing password on either side leaves no session, and the
// peer status (tortiectl node status) names the password as the likely reason; a password changed
// on both sides re-establishes without restarting the speaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach, waitFor } from '../harness/daemon.js';
import { Gobgp, gobgpConfig } from '../harness/gobgp.js';
import { nodeStatus } from '../../ctl/commands/node-status.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;

const birdConf = (me: LabMember, peer: LabMember, password?: string): string => `router id ${me.ipv4};
protocol device {}
protocol static s4 { ipv4; route 192.0.2.0/24 blackhole; }
protocol bgp tortie { local ${me.ipv4} as ${AS}; neighbor ${peer.ipv4} as ${AS}; hold time 6; keepalive time 2;
  connect retry time 1; error wait time 1,2; ${password ? `password "${password}";` : ''}
  ipv4 { import all; export all; }; }
`;

const gobgpConf = (me: LabMember, peer: LabMember, password: string): string =>
  gobgpConfig({ as: AS, routerId: me.ipv4, neighbors: [{ address: peer.ipv4, peerAs: AS, holdTime: 9, keepalive: 3, connectRetry: 1, passive: true, authPassword: password, families: ['ipv4-unicast'] }] });

/** Long enough for several connection attempts each way (connect retry 1 s on every side). */
const ATTEMPTS_MS = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('interop: TCP-MD5 passwords with BIRD and GoBGP', () => {
  let lab: BgpLab;
  let bird: Bird;
  let gobgp: Gobgp;
  let speaker: SpeakerProc;
  let me: LabMember;
  let b: LabMember;
  let g: LabMember;

  const config = (birdPassword: string | undefined, gobgpPassword: string | undefined): SpeakerFileConfig => ({
    asNumber: AS,
    routerId: me.ipv4,
    listenAddresses: ['::'],
    ...SHORT_TIMERS,
    families: [4],
    peers: [
      { address: b.ipv4, asNumber: AS, type: 'global', passive: true, ...(birdPassword ? { password: birdPassword } : {}) },
      { address: g.ipv4, asNumber: AS, type: 'global', ...(gobgpPassword ? { password: gobgpPassword } : {}) },
    ],
    originate: [{ prefix: '10.30.1.0/26' }],
  });

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'md', members: 3 });
    [me, b, g] = lab.members;
    bird = await Bird.start(b.ns, birdConf(b, me, 'bird-secret'));
    gobgp = await Gobgp.start(g.ns, gobgpConf(g, me, 'gobgp-secret'));
    speaker = await SpeakerProc.start(me.ns, config('bird-secret', 'gobgp-secret'));
  });

  afterAll(() => stopEach(speaker, bird, gobgp, lab));

  it('reaches Established with matching passwords: accepted from BIRD, dialled to GoBGP', async () => {
    await waitPeerState(speaker, b.ipv4, 'Established');
    await waitPeerState(speaker, g.ipv4, 'Established');
    await bird.waitEstablished('tortie');
    await gobgp.waitEstablished(me.ipv4);
    await waitFor('BIRD route from us', async () => ((await bird.routes()).some((r) => r.prefix === '10.30.1.0/26') ? true : undefined));
  });

  it('a wrong password on our side: no session, and the status names the password', async () => {
    speaker.reconfigure(config('wrong', 'wrong'));
    await waitFor('sessions reset', async () => ((await speaker.peer(b.ipv4))?.state !== 'Established' && (await speaker.peer(g.ipv4))?.state !== 'Established' ? true : undefined));
    await sleep(ATTEMPTS_MS);
    for (const addr of [b.ipv4, g.ipv4]) {
      const p = await speaker.peer(addr);
      expect(p?.state).not.toBe('Established');
      expect(p?.hint).toMatch(/password is the likely reason/);
    }
    const status = await nodeStatus(speaker.api);
    expect(status.text).toContain(`${b.ipv4}: TCP-MD5 password set for this peer`);
    const warned = speaker.log().split('\n').filter((l) => l.includes('BGP peer not connecting') && l.includes('the password is the likely reason'));
    expect(warned.length).toBeGreaterThan(0);
  });

  it('no password on our side while the peers have one: no session, and the status says the peer likely has one', async () => {
    speaker.reconfigure(config(undefined, undefined));
    await sleep(ATTEMPTS_MS);
    expect((await speaker.peer(g.ipv4))?.state).not.toBe('Established');
    // BIRD keeps dialling us with signed SYNs, which our kernel counts as unexpected.
    const p = await speaker.peer(b.ipv4);
    expect(p?.state).not.toBe('Established');
    expect(p?.hint).toMatch(/peer likely has a TCP-MD5 password/);
  });

  it('a password on our side only (BIRD has none): no session', async () => {
    await bird.reconfigure(birdConf(b, me, undefined));
    speaker.reconfigure(config('bird-secret', 'gobgp-secret'));
    await waitPeerState(speaker, g.ipv4, 'Established');
    await sleep(ATTEMPTS_MS);
    const p = await speaker.peer(b.ipv4);
    expect(p?.state).not.toBe('Established');
    expect(p?.hint).toMatch(/password/);
  });

  it('a password changed on both sides re-establishes without restarting the speaker', async () => {
    await bird.reconfigure(birdConf(b, me, 'changed-secret'));
    speaker.reconfigure(config('changed-secret', 'gobgp-secret'));
    await waitPeerState(speaker, b.ipv4, 'Established');
    await bird.waitEstablished('tortie');
    expect((await speaker.peer(g.ipv4))?.state).toBe('Established');
  });
});
