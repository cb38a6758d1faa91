import { describe, expect, it } from 'vitest';
import { conventionLabels, parseNetConf } from './config.js';
import { CniError } from './errors.js';

const base = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', ipam: { type: 'calico-ipam' } };

describe('args.cni.labels (CNI conventions)', () => {
  it('become the pod labels', () => {
    const conf = parseNetConf(JSON.stringify({ ...base, args: { cni: { labels: [{ key: 'app', value: 'web' }, { key: 'tier', value: '' }] } } }));
    expect(conf.labels).toEqual({ app: 'web', tier: '' });
  });

  it('are empty when absent', () => {
    expect(parseNetConf(JSON.stringify(base)).labels).toEqual({});
    expect(conventionLabels({ other: 1 })).toEqual({});
  });

  it('bad shapes name the field', () => {
    const msg = (args: unknown): string => {
      try {
        conventionLabels(args);
        return 'no error';
      } catch (e) {
        expect(e).toBeInstanceOf(CniError);
        return (e as Error).message;
      }
    };
    expect(msg('x')).toBe('network config field "args" must be an object');
    expect(msg({ cni: { labels: {} } })).toContain('"args.cni.labels" must be an array');
    expect(msg({ cni: { labels: [{ key: 'a' }] } })).toBe('network config field "args.cni.labels[0].value" must be a string');
    expect(msg({ cni: { labels: [{ value: 'a' }] } })).toBe('network config field "args.cni.labels[0].key" must be a non-empty string');
  });
});
