import { describe, expect, it } from 'vitest';
import { expectError, ok, v3 } from './testutil.js';

describe('FelixConfiguration', () => {
  it('accepts common settings', () => {
    const spec = { logSeverityScreen: 'Info', ipipEnabled: true, vxlanVNI: 4096, iptablesRefreshInterval: '90s', failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22 }] };
    expect(ok(v3('FelixConfiguration', 'default', spec)).spec).toEqual(spec);
  });
  it('validates durations and enums', () => {
    expectError(v3('FelixConfiguration', 'default', { iptablesRefreshInterval: '90' }), 'spec.iptablesRefreshInterval', /duration/);
    expectError(v3('FelixConfiguration', 'default', { defaultEndpointToHostAction: 'ACCEPT' }), 'spec.defaultEndpointToHostAction', /Accept/);
  });
  it('rejects unknown fields', () => {
    expectError(v3('FelixConfiguration', 'node.host-1', { ipipEnable: true }), 'spec.ipipEnable', /unknown field/);
  });
});
