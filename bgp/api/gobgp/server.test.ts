// The API server over a real speaker and a real gRPC client on loopback: random requests at every
// method never crash it, never get INTERNAL/UNKNOWN, and never touch what the datastore configured.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Speaker } from '../../speaker/speaker.js';
import { GobgpApiServer } from './server.js';
import { gobgpService } from './service.js';

const ALLOWED = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNIMPLEMENTED,
  grpc.status.ALREADY_EXISTS,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
]);

describe('GoBGP API server', () => {
  const log = pino({ level: 'silent' });
  let speaker: Speaker;
  let api: GobgpApiServer;
  let client: grpc.Client;
  const service = gobgpService();

  /**
   * Calls `method` with `req`; resolves with the status code (streams: after the end). The random
   * requests pass a short deadline, which ends their streams quickly.
   */
  function call(method: string, req: unknown, deadlineMs = 10_000): Promise<number> {
    const d = service[method];
    const deadline = Date.now() + deadlineMs;
    return new Promise((resolve) => {
      if (d.responseStream) {
        const s = client.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, req, { deadline });
        s.on('data', () => {});
        s.on('error', (e: grpc.ServiceError) => resolve(e.code));
        s.on('end', () => resolve(grpc.status.OK));
      } else if (d.requestStream) {
        const s = client.makeClientStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, { deadline }, (e) => resolve(e ? e.code : grpc.status.OK));
        s.write(req);
        s.end();
      } else client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, req, { deadline }, (e) => resolve(e ? e.code : grpc.status.OK));
    });
  }

  beforeAll(async () => {
    speaker = new Speaker({ asNumber: 64512, routerId: '10.9.9.9', listenPort: 0 }, { onRoute: () => {} }, log);
    await speaker.start([{ address: '127.0.0.99', asNumber: 65001, type: 'global', passive: true }]);
    speaker.announce([{ family: 4, address: '10.20.0.0', length: 24 }], { communities: [7] });
    api = new GobgpApiServer({ speaker: () => speaker, log });
    const [bound] = await api.listen(['127.0.0.1:0']);
    client = new grpc.Client(bound, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await api.close();
    await speaker.stop();
  });

  it('answers a method it does not implement with UNIMPLEMENTED, and a peer change with a reason', async () => {
    expect(await call('ListVrf', {})).toBe(grpc.status.UNIMPLEMENTED);
    expect(await call('AddPeer', { peer: { conf: { neighbor_address: '10.1.1.1', peer_asn: 1 } } })).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('refuses to shadow or delete a route the datastore originates', async () => {
    const path = { nlri: { '@type': 'type.googleapis.com/apipb.IPAddressPrefix', prefix: '10.20.0.0', prefix_len: 24 }, family: { afi: 1, safi: 1 } };
    expect(await call('AddPath', { path })).toBe(grpc.status.ALREADY_EXISTS);
    expect(await call('DeletePath', { path })).toBe(grpc.status.NOT_FOUND);
    expect(speaker.originated().map((r) => r.attrs.communities)).toEqual([[7]]);
  });

  it('WatchEvent: the current table with init, then each change as the speaker makes it; peer STATE events', async () => {
    const d = service.WatchEvent;
    const s = client.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, { peer: {}, table: { filters: [{ type: 'BEST', init: true }] } });
    const events: Array<{ table?: { paths: Array<{ nlri: { prefix: string }; is_withdraw: boolean }> }; peer?: { type: string; peer: { state: { admin_state: string } } } }> = [];
    s.on('data', (e: (typeof events)[number]) => events.push(e));
    s.on('error', () => {});
    const next = async <T>(what: string, find: () => T | undefined): Promise<T> => {
      for (let i = 0; i < 100; i++) {
        const x = find();
        if (x) return x;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ${what} event in ${JSON.stringify(events)}`);
    };
    const route = (prefix: string, withdrawn: boolean) => () => events.find((e) => e.table?.paths.some((p) => p.nlri.prefix === prefix && p.is_withdraw === withdrawn));
    try {
      await next('initial table', route('10.20.0.0', false));
      speaker.announce([{ family: 4, address: '10.21.0.0', length: 24 }]);
      await next('announcement', route('10.21.0.0', false));
      speaker.withdraw([{ family: 4, address: '10.21.0.0', length: 24 }]);
      await next('withdrawal', route('10.21.0.0', true));
      speaker.setAdminDown('127.0.0.99', true);
      expect((await next('peer', () => events.find((e) => e.peer)))?.peer).toMatchObject({ type: 'STATE', peer: { state: { admin_state: 'DOWN' } } });
    } finally {
      speaker.setAdminDown('127.0.0.99', false);
      s.cancel();
    }
  });

  it('WatchEvent refuses a filter type it does not know and a request for nothing', async () => {
    expect(await call('WatchEvent', { table: { filters: [{ type: 7 }] } })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await call('WatchEvent', {})).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('random requests at every method: no crash, no INTERNAL, datastore state untouched', async () => {
    // Mostly the methods with handlers; the rest must answer UNIMPLEMENTED whatever comes.
    const implemented = ['GetBgp', 'ListPeer', 'ListPath', 'GetTable', 'AddPath', 'DeletePath', 'ResetPeer', 'ShutdownPeer', 'DisablePeer', 'EnablePeer', 'WatchEvent'];
    const method = fc.oneof({ arbitrary: fc.constantFrom(...implemented), weight: 4 }, { arbitrary: fc.constantFrom(...Object.keys(service)), weight: 1 });
    const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('127.0.0.99'), fc.string({ maxLength: 8 }));
    const anyMsg = (t: string) => fc.record({ '@type': fc.constant(`type.googleapis.com/apipb.${t}`), prefix: ip, prefix_len: fc.integer({ min: 0, max: 140 }), origin: fc.integer({ min: 0, max: 4 }), next_hop: ip }, { requiredKeys: ['@type'] });
    const req = fc.record(
      {
        address: ip,
        name: ip,
        family: fc.record({ afi: fc.constantFrom(0, 1, 2, 25, 99), safi: fc.constantFrom(0, 1, 2, 70, 128) }),
        table_type: fc.integer({ min: 0, max: 6 }),
        sort_type: fc.integer({ min: 0, max: 2 }),
        soft: fc.boolean(),
        direction: fc.integer({ min: 0, max: 3 }),
        communication: fc.string({ maxLength: 4 }),
        uuid: fc.uint8Array({ maxLength: 17 }).map((b) => Buffer.from(b)),
        prefixes: fc.array(fc.record({ prefix: ip, type: fc.integer({ min: 0, max: 3 }) }), { maxLength: 2 }),
        path: fc.record({ nlri: anyMsg('IPAddressPrefix'), pattrs: fc.array(fc.oneof(anyMsg('OriginAttribute'), anyMsg('NextHopAttribute'), anyMsg('PmsiTunnelAttribute')), { maxLength: 3 }), family: fc.record({ afi: fc.nat(3), safi: fc.nat(2) }) }),
        table: fc.record({ filters: fc.array(fc.record({ type: fc.nat(3), init: fc.boolean() }), { maxLength: 2 }) }),
      },
      { requiredKeys: [] },
    );
    const before = JSON.stringify(speaker.originated().filter((r) => r.prefix.address === '10.20.0.0'));
    await fc.assert(
      fc.asyncProperty(method, req, async (m, r) => {
        const code = await call(m, r, 300);
        expect(ALLOWED.has(code), `${m} ${JSON.stringify(r)} → ${grpc.status[code]}`).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(JSON.stringify(speaker.originated().filter((r) => r.prefix.address === '10.20.0.0'))).toBe(before);
    expect(speaker.peerViews().map((v) => v.config.address)).toEqual(['127.0.0.99']);
    expect(await call('GetBgp', {})).toBe(grpc.status.OK);
  });
});
