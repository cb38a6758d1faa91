import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../datastore/backends/index.js';
import { IpamClient } from '../../ipam/allocator.js';
import { putPool } from '../../ipam/testing.js';
import { formatIpamShow } from './ipam.js';

describe('tortiectl ipam show', () => {
  it('prints pool and block utilisation as calicoctl does', async () => {
    const be = createMemoryStore();
    await putPool(be, 'default-ipv4-ippool', { cidr: '10.244.0.0/16' });
    const ipam = new IpamClient(be);
    await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 5 });
    const pools = await ipam.listPools();
    const blocks = [(await ipam.getBlock('10.244.0.0/26'))!.block];
    expect(formatIpamShow(pools, blocks, false)).toBe(
      [
        '+----------+---------------+-----------+------------+--------------+',
        '| GROUPING |     CIDR      | IPS TOTAL | IPS IN USE |   IPS FREE   |',
        '+----------+---------------+-----------+------------+--------------+',
        '| IP Pool  | 10.244.0.0/16 | 65536     | 5 (0%)     | 65531 (100%) |',
        '+----------+---------------+-----------+------------+--------------+',
        '',
      ].join('\n'),
    );
    expect(formatIpamShow(pools, blocks, true)).toContain('| Block    | 10.244.0.0/26 | 64        | 5 (8%)     | 59 (92%)     |');
  });
});
