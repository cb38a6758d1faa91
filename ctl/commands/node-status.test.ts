import { describe, expect, it } from 'vitest';
import type { PeerStatus } from '../../bgp/speaker/types.js';
import { boxTable, formatNodeStatus, sinceText, stateWord } from './node-status.js';

const now = new Date('2026-11-22T12:00:00Z');
const peer = (over: Partial<PeerStatus>): PeerStatus => ({
  name: 'x',
  address: '172.17.8.102',
  asNumber: 64512,
  type: 'mesh',
  state: 'Established',
  since: '2026-11-22T11:30:04Z',
  info: 'Established',
  prefixesReceived: 0,
  prefixesAccepted: 0,
  prefixesAdvertised: 0,
  ...over,
});

describe('node status formatting', () => {
  it('prints calicoctl-style tables for IPv4 and IPv6', () => {
    const text = formatNodeStatus({ routerId: '1.1.1.1', asNumber: 64512 }, [
      peer({}),
      peer({ address: '172.17.8.103', type: 'global', state: 'Active', info: 'connect failed: connect ECONNREFUSED', since: '2026-11-21T10:00:00Z' }),
      peer({ address: 'fd00::2', type: 'node' }),
    ], now);
    expect(text).toBe(`Tortie process is running.

IPv4 BGP status
+--------------+-------------------+-------+------------+---------------------------------------------+
| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |                    INFO                     |
+--------------+-------------------+-------+------------+---------------------------------------------+
| 172.17.8.102 | node-to-node mesh | up    | 11:30:04   | Established                                 |
| 172.17.8.103 | global            | start | 2026-11-21 | Active connect failed: connect ECONNREFUSED |
+--------------+-------------------+-------+------------+---------------------------------------------+

IPv6 BGP status
+--------------+---------------+-------+----------+-------------+
| PEER ADDRESS |   PEER TYPE   | STATE |  SINCE   |    INFO     |
+--------------+---------------+-------+----------+-------------+
| fd00::2      | node specific | up    | 11:30:04 | Established |
+--------------+---------------+-------+----------+-------------+

`);
  });

  it('says when there are no peers of a family', () => {
    const text = formatNodeStatus({ routerId: '1.1.1.1', asNumber: 1 }, [], now);
    expect(text).toContain('IPv4 BGP status\nNo IPv4 peers found.');
    expect(text).toContain('IPv6 BGP status\nNo IPv6 peers found.');
  });

  it('lists peers by address, whatever order their sessions came up in', () => {
    const text = formatNodeStatus({ routerId: '1.1.1.1', asNumber: 1 }, [peer({ address: '10.0.0.13' }), peer({ address: '10.0.0.9' }), peer({ address: '10.0.0.12' })], now);
    const order = [...text.matchAll(/\| (10\.0\.0\.\d+) /g)].map((m) => m[1]);
    expect(order).toEqual(['10.0.0.9', '10.0.0.12', '10.0.0.13']);
  });

  it('reports a process that is not running', () => {
    expect(formatNodeStatus(undefined, [])).toBe('Tortie process is not running.\n');
  });

  it('maps FSM states to BIRD protocol states', () => {
    expect(['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'].map(stateWord)).toEqual(['down', 'start', 'start', 'start', 'start', 'up']);
  });

  it('prints a time for today and a date otherwise', () => {
    expect(sinceText('2026-11-22T01:02:03Z', now)).toBe('01:02:03');
    expect(sinceText('2026-01-02T01:02:03Z', now)).toBe('2026-01-02');
    expect(sinceText('garbage', now)).toBe('?');
  });

  it('pads every row of a box table to the widest cell', () => {
    expect(boxTable(['A', 'B'], [['long', 'x']]).split('\n').map((l) => l.length)).toEqual([12, 12, 12, 12, 12]);
  });
});
