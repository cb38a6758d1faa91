import { describe, expect, it } from 'vitest';
import { configMapData, mountArgs, podServiceAccount, podTemplate, resolveEnv, securityArgs } from './manifest-pod.js';

const MANIFEST = `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {endpoints: "http://10.0.0.2:2379"}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      initContainers:
        - {name: install, image: img:1, command: [install]}
      containers:
        - name: main
          image: img:1
          command: [run]
          env:
            - {name: FIXED, value: "x"}
            - name: EP
              valueFrom: {configMapKeyRef: {name: cfg, key: endpoints}}
            - name: NODE
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
          volumeMounts:
            - {name: mods, mountPath: /lib/modules, readOnly: true}
            - {name: certs, mountPath: /calico-secrets}
      volumes:
        - {name: mods, hostPath: {path: /lib/modules}}
        - {name: certs, secret: {secretName: s}}
`;

describe('a pod as the lab takes it from a manifest', () => {
  it('finds the DaemonSet pod template and the ConfigMap', () => {
    const pod = podTemplate(MANIFEST, 'DaemonSet', 'agent');
    expect(pod.initContainers.map((c) => c.name)).toEqual(['install']);
    expect(pod.containers[0]?.command).toEqual(['run']);
    expect(configMapData(MANIFEST, 'cfg')).toEqual({ endpoints: 'http://10.0.0.2:2379' });
    expect(() => podTemplate(MANIFEST, 'Deployment', 'agent')).toThrow('no Deployment agent');
  });

  it('resolves env from values, ConfigMap keys and the pod\'s fields, as the kubelet does', () => {
    const c = podTemplate(MANIFEST, 'DaemonSet', 'agent').containers[0]!;
    expect(resolveEnv(c, { cfg: configMapData(MANIFEST, 'cfg') }, { 'spec.nodeName': 'node1' })).toEqual({ FIXED: 'x', EP: 'http://10.0.0.2:2379', NODE: 'node1' });
    expect(() => resolveEnv(c, { cfg: {} }, { 'spec.nodeName': 'n' })).toThrow('env EP: ConfigMap cfg has no key endpoints');
    expect(() => resolveEnv(c, { cfg: { endpoints: 'e' } }, {})).toThrow('env NODE: field spec.nodeName');
  });

  it('mounts each volume where the caller places it, read-only as declared', () => {
    const pod = podTemplate(MANIFEST, 'DaemonSet', 'agent');
    const args = mountArgs(pod.containers[0]!, pod.volumes, (v) => (v.secret ? '/state/secrets' : v.hostPath?.path));
    expect(args).toEqual(['-v', '/lib/modules:/lib/modules:ro', '-v', '/state/secrets:/calico-secrets']);
  });

  it("takes the pod's ServiceAccount and security settings as a kubelet acts on them", () => {
    expect(podServiceAccount({ serviceAccountName: 'tortie-node' })).toBe('tortie-node');
    expect(podServiceAccount({})).toBe('default');
    expect(podServiceAccount({ serviceAccountName: 'tortie-rr', automountServiceAccountToken: false })).toBeUndefined();
    const c = { name: 'c', image: 'i', securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } };
    expect(securityArgs(c, { securityContext: { runAsUser: 65534 } })).toEqual(['--user', '65534:65534', '--read-only', '--security-opt', 'no-new-privileges', '--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE']);
    expect(securityArgs({ name: 'n', image: 'i', securityContext: { privileged: true } }, {})).toEqual(['--privileged']);
  });
});
