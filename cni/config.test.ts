import { describe, expect, it } from 'vitest';
import { CniError } from './errors.js';
import { parseEnv, parseNetConf } from './config.js';
import { etcdEndpoints, tlsFiles } from './datastore.js';
import { encodeResult } from './result.js';

// The seed's calico.conf (004), placeholders filled in and its missing closing brace added.
const SEED_CALICO_CONF = `{
"name": "k8s-pod-network",
"cniVersion": "0.1.0",
"type": "calico",
"etcd_endpoints": "https://10.0.0.1,https://10.0.0.2:2379",
"etcd_key_file": "/etc/kubernetes/ssl/kubernetes-key.pem",
"etcd_cert_file": "/etc/kubernetes/ssl/kubernetes.pem",
"etcd_ca_cert_file": "/etc/kubernetes/ssl/ca.pem",
"log_level": "info",
"ipam": {
    "type": "calico-ipam"
 },
"kubernetes": {
    "kubeconfig": "/etc/kubernetes/kube-proxy.kubeconfig"
}
}`;

function cniError(f: () => unknown): CniError {
  try {
    f();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error('expected a CniError');
}

describe("Calico's CNI config keys", () => {
  it("reads the seed's calico.conf: every key, endpoints without a port get etcd's 2379", () => {
    const c = parseNetConf(SEED_CALICO_CONF);
    expect(c).toMatchObject({
      cniVersion: '0.1.0',
      name: 'k8s-pod-network',
      type: 'calico',
      etcd_key_file: '/etc/kubernetes/ssl/kubernetes-key.pem',
      etcd_cert_file: '/etc/kubernetes/ssl/kubernetes.pem',
      etcd_ca_cert_file: '/etc/kubernetes/ssl/ca.pem',
      log_level: 'info',
      ipam: { type: 'calico-ipam' },
      kubernetes: { kubeconfig: '/etc/kubernetes/kube-proxy.kubeconfig' },
    });
    expect(etcdEndpoints(c, {})).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(tlsFiles(c, {})).toEqual({ ca: '/etc/kubernetes/ssl/ca.pem', cert: '/etc/kubernetes/ssl/kubernetes.pem', key: '/etc/kubernetes/ssl/kubernetes-key.pem' });
  });

  it('the seed as printed (closing brace lost) is a decode error naming the problem', () => {
    const e = cniError(() => parseNetConf(SEED_CALICO_CONF.replace(/\}$/, '')));
    expect(e.code).toBe(6);
    expect(e.message).toMatch(/^network config on stdin is not JSON/);
  });

  it('an unfilled placeholder is named with the field', () => {
    const c = parseNetConf(JSON.stringify({ cniVersion: '0.3.1', name: 'n', type: 'calico', etcd_endpoints: 'https://{ETCD1},https://{ETCD2}:2379', ipam: { type: 'calico-ipam' } }));
    const e = cniError(() => etcdEndpoints(c, {}));
    expect(e.code).toBe(7);
    expect(e.message).toBe('etcd_endpoints: "https://{ETCD1}" still contains the placeholder {ETCD1}: put your etcd address there');
  });

  it('falls back to ETCD_ENDPOINTS and the TLS variables (with the seed ETCD_CA_FILE alias)', () => {
    const c = parseNetConf('{"cniVersion":"1.0.0","name":"n","type":"tortie","ipam":{"type":"tortie-ipam"}}');
    const env = { ETCD_ENDPOINTS: '10.0.0.9', ETCD_CA_FILE: '/ca.pem', ETCD_CERT_FILE: '/c.pem', ETCD_KEY_FILE: '/k.pem' };
    expect(tlsFiles(c, env)).toEqual({ ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' });
    expect(etcdEndpoints(c, env)).toEqual(['https://10.0.0.9:2379']);
    expect(cniError(() => etcdEndpoints(c, {})).message).toMatch(/no datastore: set etcd_endpoints/);
  });

  it('mtu and nodename are read; bad values name the field', () => {
    expect(parseNetConf('{"cniVersion":"1.0.0","mtu":1440,"nodename":"n1","ipam":{"type":"x"}}')).toMatchObject({ mtu: 1440, nodename: 'n1' });
    expect(cniError(() => parseNetConf('{"cniVersion":"1.0.0","mtu":"big"}')).message).toBe('network config field "mtu" must be 0 (automatic) or an integer 68–65535');
    expect(cniError(() => parseNetConf('{"cniVersion":"1.0.0","nodename":5}')).message).toBe('network config field "nodename" must be a string');
    expect(cniError(() => parseNetConf('{"cniVersion":"9.9.9"}')).code).toBe(1);
  });

  it('agent_socket and timeout_seconds are read (30 s by default); bad values name the field', () => {
    const c = parseNetConf('{"cniVersion":"1.1.0","agent_socket":"/run/x.sock","timeout_seconds":2.5}');
    expect([c.agent_socket, c.timeout_seconds]).toEqual(['/run/x.sock', 2.5]);
    expect(parseNetConf('{"cniVersion":"1.1.0"}').timeout_seconds).toBe(30);
    expect(cniError(() => parseNetConf('{"cniVersion":"1.1.0","timeout_seconds":0}')).message).toContain('"timeout_seconds"');
    expect(cniError(() => parseNetConf('{"cniVersion":"1.1.0","agent_socket":7}')).message).toContain('"agent_socket" must be a string');
  });

  it('a 0.1.0 config gets a legacy ip4 result, a 1.0.0 config an ips list', () => {
    const r = { ips: [{ address: '10.244.0.5/32', interface: 1 }], routes: [{ dst: '0.0.0.0/0' }] };
    expect(encodeResult('0.1.0', r)).toEqual({ cniVersion: '0.1.0', ip4: { ip: '10.244.0.5/32', routes: [{ dst: '0.0.0.0/0' }] }, dns: {} });
    expect(encodeResult('1.0.0', r)).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.244.0.5/32', interface: 1 }] });
  });
});

describe('CNI environment', () => {
  it('reads the runtime variables and CNI_ARGS', () => {
    const e = parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p' });
    expect(e).toEqual({ command: 'ADD', containerId: 'c1', netns: '/var/run/netns/x', ifname: 'eth0', path: ['/opt/cni/bin', '/usr/lib/cni'], args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'ns', K8S_POD_NAME: 'p' } });
  });

  it('names a missing variable; DEL needs no netns', () => {
    expect(cniError(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' })).message).toBe('CNI_NETNS is not set (required for ADD)');
    expect(parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' }).netns).toBe('');
    expect(cniError(() => parseEnv({})).code).toBe(4);
    expect(cniError(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_ARGS: 'oops' })).message).toMatch(/CNI_ARGS item "oops"/);
  });
});
