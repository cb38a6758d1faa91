import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRrEnv, RR_NODE_OPTIONS } from './env.js';

describe('RR_NODE_OPTIONS', () => {
  it('are what the image and the npm bin start tortie-rr with', () => {
    const read = (rel: string): string => readFileSync(new URL(`../${rel}`, import.meta.url), 'utf8');
    const flags = RR_NODE_OPTIONS.join(' ');
    expect(read('images/rr/Containerfile')).toContain(`exec /usr/local/bin/node ${flags} /opt/tortie/lib/tortie-rr.mjs`);
    expect(read('bin/tortie-rr').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
  });
});

describe('parseRrEnv', () => {
  it('reads calico/routereflector variables', () => {
    const r = parseRrEnv({ IP: '10.0.0.100', CLUSTER_ID: '244.0.0.1', AS: '64512', NODENAME: 'rr1' });
    expect(r).toEqual({ ok: true, config: { nodename: 'rr1', ip: '10.0.0.100', clusterId: '244.0.0.1', asNumber: 64512, labels: { 'route-reflector': 'true' }, gobgpApiHosts: ['127.0.0.1:50051'], mraiMs: 50, logLevel: 'info' } });
  });
  it('TORTIE_GOBGP_API_HOSTS: gobgpd --api-hosts form, off, and a named error', () => {
    const hosts = (v: string): unknown => {
      const r = parseRrEnv({ IP: '10.0.0.100', TORTIE_GOBGP_API_HOSTS: v });
      return r.ok ? r.config.gobgpApiHosts : r.errors;
    };
    expect(hosts('unix:///run/tortie/gobgp.sock,[::1]:50051')).toEqual(['unix:///run/tortie/gobgp.sock', '[::1]:50051']);
    expect(hosts(':50051')).toEqual([':50051']);
    expect(hosts('off')).toEqual([]);
    expect(hosts('localhost')).toEqual([expect.stringMatching(/^TORTIE_GOBGP_API_HOSTS: "localhost" is not host:port/)]);
  });
  it('TORTIE_MRAI_MS: 50 ms unless set; 0 sends every batch at once; anything but whole milliseconds is named', () => {
    const mrai = (v?: string): unknown => {
      const r = parseRrEnv({ IP: '10.0.0.100', ...(v === undefined ? {} : { TORTIE_MRAI_MS: v }) });
      return r.ok ? r.config.mraiMs : r.errors;
    };
    expect(mrai()).toBe(50);
    expect(mrai('')).toBe(50);
    expect(mrai('0')).toBe(0);
    expect(mrai(' 200 ')).toBe(200);
    for (const bad of ['-1', '1.5', '50ms', '60001']) expect(mrai(bad)).toEqual([expect.stringMatching(/^TORTIE_MRAI_MS: ".*" must be whole milliseconds from 0 to 60000/)]);
  });
  it('defaults: cluster id = IP, node name from the IP, AS from the datastore', () => {
    const r = parseRrEnv({ IP: '10.0.0.100/24' });
    expect(r.ok && r.config).toMatchObject({ nodename: 'rr-10-0-0-100', ip: '10.0.0.100', clusterId: '10.0.0.100' });
    expect(r.ok && r.config.asNumber).toBeUndefined();
  });
  it('reports every bad variable by name', () => {
    const r = parseRrEnv({ IP: '10.0.0.300', CLUSTER_ID: 'abc', AS: 'x', IP6: '10.0.0.1', NODENAME: 'Bad_Name' });
    expect(r.ok).toBe(false);
    const errs = r.ok ? [] : r.errors;
    for (const v of ['IP:', 'CLUSTER_ID:', 'AS:', 'IP6:', 'NODENAME:']) expect(errs.some((e) => e.startsWith(v))).toBe(true);
  });
  it('IP is required', () => {
    const r = parseRrEnv({});
    expect(r.ok ? [] : r.errors).toEqual([expect.stringMatching(/^IP: required/)]);
  });
});
