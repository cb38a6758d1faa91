import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../datastore/backends/index.js';
import { ResourceClient } from '../../datastore/client.js';
import { UsageError } from '../errors.js';
import { setDefaultBGPConfig, setting } from './config.js';

describe('config settings', () => {
  it('nodeToNodeMesh takes on|off, case-insensitive name', () => {
    expect(setting('nodeToNodeMesh').apply('off')).toEqual({ nodeToNodeMeshEnabled: false });
    expect(setting('NODETONODEMESH').apply('On')).toEqual({ nodeToNodeMeshEnabled: true });
    expect(() => setting('nodeToNodeMesh').apply('maybe')).toThrow(UsageError);
    expect(setting('nodeToNodeMesh').show({})).toBe('on');
    expect(setting('nodeToNodeMesh').show({ nodeToNodeMeshEnabled: false })).toBe('off');
  });
  it('asNumber takes plain and asdot numbers in range', () => {
    expect(setting('asNumber').apply('64567')).toEqual({ asNumber: 64567 });
    expect(setting('asNumber').apply('1.10')).toEqual({ asNumber: 65546 });
    expect(() => setting('asNumber').apply('0')).toThrow(UsageError);
    expect(() => setting('asNumber').apply('4294967296')).toThrow(UsageError);
    expect(setting('asNumber').show({})).toBe('64512');
  });
  it('unknown settings are usage errors', () => {
    expect(() => setting('logLevel')).toThrow(/unknown setting/);
  });
});

describe('setDefaultBGPConfig', () => {
  it('creates the default BGPConfiguration, then edits it keeping other fields', async () => {
    const client = new ResourceClient(createMemoryStore());
    await setDefaultBGPConfig(client, { nodeToNodeMeshEnabled: false });
    await setDefaultBGPConfig(client, { asNumber: 65000 });
    const r = await client.get('bgpconfig', 'default');
    expect(r.spec).toMatchObject({ nodeToNodeMeshEnabled: false, asNumber: 65000 });
  });
});
