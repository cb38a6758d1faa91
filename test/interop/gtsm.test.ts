// GTSM (RFC 5082, BGPPeer.ttlSecurity) with real BIRD 2 peers running `ttl security on`: a peer on
// the same link is Established at 1 hop; a peer one router further away is refused at 1 hop (its
// segments arrive with TTL 254, below our minimum 255) and Established once we allow 2 hops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BgpLab, type LabMember } from '../harness/bgp-lab.js';
import { Bird } from '../harness/bird.js';
import { stopEach } from '../harness/daemon.js';
import { SHORT_TIMERS, SpeakerProc, waitPeerState, type SpeakerFileConfig } from './speaker-proc.js';

const AS = 64512;
const FAR = '10.78.0.2';

const birdConf = (me: string, peer: string, hops?: number): string => `router id ${me};
protocol device {}
protocol bgp tortie { local ${me} as ${AS}; neighbor ${peer} as ${AS}; hold time 6; keepalive time 2;
  connect retry time 1; error wait time 1,2; ttl security on; ${hops ? `multihop ${hops};` : ''}
  ipv4 { import all; export all; }; }
`;

/** Several connection attempts each way (connect retry 1 s on both sides). */
const ATTEMPTS_MS = 5000;

describe('interop: GTSM (ttlSecurity) with BIRD', () => {
  let lab: BgpLab;
  let near: Bird;
  let far: Bird;
  let speaker: SpeakerProc;
  let me: LabMember;
  let n: LabMember;

  const config = (farHops: number): SpeakerFileConfig => ({
    asNumber: AS,
    routerId: me.ipv4,
    listenAddresses: ['::'],
    ...SHORT_TIMERS,
    families: [4],
    peers: [
      { address: n.ipv4, asNumber: AS, type: 'global', ttlSecurity: 1 },
      { address: FAR, asNumber: AS, type: 'global', ttlSecurity: farHops },
    ],
  });

  beforeAll(async () => {
    lab = await BgpLab.create({ label: 'gt', members: 3 });
    let router: LabMember;
    [me, n, router] = lab.members;
    // A namespace behind the router member: one routed hop away from us.
    const farNs = await lab.netns.add('far');
    await lab.netns.veth(farNs, 'eth0', `${FAR}/24`, router.ns, 'eth1', '10.78.0.1/24');
    await lab.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await lab.netns.exec(farNs, ['ip', 'route', 'add', 'default', 'via', '10.78.0.1']);
    await lab.exec(me, ['ip', 'route', 'add', '10.78.0.0/24', 'via', router.ipv4]);
    near = await Bird.start(n.ns, birdConf(n.ipv4, me.ipv4));
    far = await Bird.start(farNs, birdConf(FAR, me.ipv4, 2));
    speaker = await SpeakerProc.start(me.ns, config(1));
  });

  afterAll(() => stopEach(speaker, near, far, lab));

  it('a directly connected peer is Established at 1 hop', async () => {
    await waitPeerState(speaker, n.ipv4, 'Established');
    await near.waitEstablished('tortie');
  });

  it('a peer one router away is refused at 1 hop, and the status says GTSM is on', async () => {
    await new Promise((r) => setTimeout(r, ATTEMPTS_MS));
    const p = await speaker.peer(FAR);
    expect(p?.state).not.toBe('Established');
    expect(p?.hint).toMatch(/GTSM on \(ttlSecurity 1\)/);
  });

  it('the same peer is Established once ttlSecurity allows 2 hops', async () => {
    speaker.reconfigure(config(2));
    await waitPeerState(speaker, FAR, 'Established');
    await far.waitEstablished('tortie');
    expect((await speaker.peer(n.ipv4))?.state).toBe('Established');
  });
});
