// What a kubelet would take from a manifest to run one pod's containers, so the lab's container
// mode runs tortie-node and tortie-rr as manifests/ says (command, environment, mounts, probes)
// instead of a second description of them. Pure: manifest text in, container specs out.
import { parseAllDocuments } from 'yaml';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  readinessProbe?: { httpGet?: { host?: string; path: string; port: number } };
  securityContext?: {
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

export interface Volume {
  name: string;
  hostPath?: { path: string };
  secret?: { secretName: string };
}

/** The pod-level fields a kubelet acts on here: identity (the ServiceAccount token it mounts) and user. */
export interface PodSpecFields {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
}

export interface PodTemplate extends PodSpecFields {
  /** The workload's namespace (its ServiceAccount's). */
  namespace: string;
  initContainers: ContainerSpec[];
  containers: ContainerSpec[];
  volumes: Volume[];
}

interface K8sDoc {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  spec?: { template?: { spec?: PodSpecFields & { initContainers?: ContainerSpec[]; containers?: ContainerSpec[]; volumes?: Volume[] } } };
}

function docs(text: string): K8sDoc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sDoc | null)
    .filter((d): d is K8sDoc => d !== null);
}

/** The pod template of the named DaemonSet or Deployment. */
export function podTemplate(text: string, kind: 'DaemonSet' | 'Deployment', name: string): PodTemplate {
  const d = docs(text).find((x) => x.kind === kind && x.metadata?.name === name);
  const spec = d?.spec?.template?.spec;
  if (!spec) throw new Error(`no ${kind} ${name} with a pod template in the manifest`);
  return { ...spec, namespace: d?.metadata?.namespace ?? 'default', initContainers: spec.initContainers ?? [], containers: spec.containers ?? [], volumes: spec.volumes ?? [] };
}

/** The ServiceAccount whose token the kubelet mounts in the pod's containers, or undefined when it mounts none. */
export function podServiceAccount(pod: PodSpecFields): string | undefined {
  if (pod.automountServiceAccountToken === false) return undefined;
  return pod.serviceAccountName ?? 'default';
}

/** `podman run` flags for the pod's and the container's securityContext. */
export function securityArgs(c: ContainerSpec, pod: PodSpecFields): string[] {
  const sc = c.securityContext ?? {};
  const user = pod.securityContext?.runAsUser;
  return [
    ...(sc.privileged ? ['--privileged'] : []),
    ...(user !== undefined ? ['--user', `${user}:${pod.securityContext?.runAsGroup ?? user}`] : []),
    ...(sc.readOnlyRootFilesystem ? ['--read-only'] : []),
    ...(sc.allowPrivilegeEscalation === false ? ['--security-opt', 'no-new-privileges'] : []),
    ...(sc.capabilities?.drop ?? []).flatMap((x) => ['--cap-drop', x]),
    ...(sc.capabilities?.add ?? []).flatMap((x) => ['--cap-add', x]),
  ];
}

/** A ConfigMap's data (empty when the manifest has none of that name). */
export function configMapData(text: string, name: string): Record<string, string> {
  return docs(text).find((x) => x.kind === 'ConfigMap' && x.metadata?.name === name)?.data ?? {};
}

/** The container's environment as the kubelet resolves it; unknown references are errors naming the variable. */
export function resolveEnv(c: ContainerSpec, configMaps: Record<string, Record<string, string>>, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const v = configMaps[name]?.[key];
      if (v === undefined) throw new Error(`${c.name}: env ${e.name}: ConfigMap ${name} has no key ${key}`);
      out[e.name] = v;
    } else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`${c.name}: env ${e.name}: field ${e.valueFrom.fieldRef.fieldPath} is not known here`);
      out[e.name] = v;
    } else throw new Error(`${c.name}: env ${e.name} has neither value nor a supported valueFrom`);
  }
  return out;
}

/** `-v` arguments for the container's mounts, with each volume's host directory chosen by `hostDir`. */
export function mountArgs(c: ContainerSpec, volumes: Volume[], hostDir: (v: Volume) => string | undefined): string[] {
  const args: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((x) => x.name === m.name);
    if (!v) throw new Error(`${c.name}: volumeMount ${m.name} names no volume`);
    const dir = hostDir(v);
    if (dir !== undefined) args.push('-v', `${dir}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
  }
  return args;
}
