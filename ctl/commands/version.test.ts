import { describe, expect, it } from 'vitest';
import { runCtl } from '../program.js';
import { formatVersion } from './version.js';

describe('tortiectl version', () => {
  it("prints calicoctl's lines, the cluster's from ClusterInformation", () => {
    expect(formatVersion('v0.1.0', { calicoVersion: 'v0.1.0', clusterType: 'etcdv3,bgp' })).toBe('Client Version:    v0.1.0\nCluster Version:   v0.1.0\nCluster Type:      etcdv3,bgp\n');
  });
  it('says when the datastore has no ClusterInformation', () => {
    expect(formatVersion('v0.1.0', undefined)).toMatch(/^Cluster Version: {3}unknown \(no ClusterInformation 'default' in the datastore\)$/m);
  });
  it('--version prints the client version alone, exit 0', async () => {
    let out = '';
    const code = await runCtl(['--version'], { out: { write: (s) => (out += s) }, err: { write: () => undefined } });
    expect(code).toBe(0);
    expect(out).toMatch(/^v\d+\.\d+\.\d+\n$/);
  });
});
