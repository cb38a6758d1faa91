import { describe, expect, it } from 'vitest';
import type { NlriPrefix } from '../codec/types.js';
import { keyToPrefix } from './prefix-key.js';
import { announcement, attrs, newRib, upPeer, withdrawal } from './testing.js';

const K = '198.51.100.0/24';
const withId = (pathId: number): NlriPrefix => ({ ...keyToPrefix(K), pathId });
const rr = { address: '10.0.0.9', routerId: '10.0.0.9' };
/** Two paths a reflector passes on with ADD-PATH: from two clients (ORIGINATOR_ID), next hop kept. */
const fromClient = (n: number) => attrs({ originatorId: `10.0.0.${n}`, clusterList: ['10.0.0.9'] });
const sorted = (a: readonly string[] | undefined): string[] => [...(a ?? [])].sort();

describe('ADD-PATH (RFC 7911) received: paths keyed by prefix and path identifier', () => {
  it('two paths for one prefix from one peer are both kept, and both next hops are installed', () => {
    const { rib, events } = newRib();
    const p = upPeer(rib, rr);
    rib.update(p, announcement(withId(1), fromClient(1), '10.0.0.1'));
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.2'));
    expect([...(p.paths.get(K)?.keys() ?? [])]).toEqual([1, 2]);
    expect(sorted(events.hops.get(K))).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('a withdrawal names one path: the other stays; the last one withdrawn removes the prefix', () => {
    const { rib, events } = newRib();
    const p = upPeer(rib, rr);
    rib.update(p, announcement(withId(1), fromClient(1), '10.0.0.1'));
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.2'));
    rib.update(p, withdrawal(withId(1)));
    expect(events.hops.get(K)).toEqual(['10.0.0.2']);
    expect(rib.selected(K)?.nextHop).toBe('10.0.0.2');
    rib.update(p, withdrawal(withId(2)));
    expect(events.hops.has(K)).toBe(false);
    expect(p.adjIn.size + p.paths.size).toBe(0);
  });

  it('a path identifier announced again replaces that path only (implicit withdraw per identifier)', () => {
    const { rib, events } = newRib();
    const p = upPeer(rib, rr);
    rib.update(p, announcement(withId(1), fromClient(1), '10.0.0.1'));
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.2'));
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.3'));
    expect(sorted(events.hops.get(K))).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('the session going down drops every path; graceful restart keeps them stale until End-of-RIB purges the ones not refreshed', () => {
    const { rib, events } = newRib();
    const p = upPeer(rib, rr, { restartTime: 30, families: [{ afi: 1, safi: 1, forwardingState: true }] });
    rib.update(p, announcement(withId(1), fromClient(1), '10.0.0.1'));
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.2'));
    expect(rib.sessionDown(p, true)).toMatchObject({ routes: 1 });
    expect(sorted(events.hops.get(K))).toEqual(['10.0.0.1', '10.0.0.2']);
    upPeer(rib, rr, { restartTime: 30, families: [{ afi: 1, safi: 1, forwardingState: true }] });
    rib.update(p, announcement(withId(2), fromClient(2), '10.0.0.2'));
    rib.endOfRib(p, { afi: 1, safi: 1 });
    expect(events.hops.get(K)).toEqual(['10.0.0.2']);
    expect(rib.selected(K)?.stale).toBeFalsy();
    rib.sessionDown(p, false);
    expect(events.hops.has(K)).toBe(false);
  });
});
