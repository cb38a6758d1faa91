// What `tortie-lab exec TARGET` runs in: a node, reflector, pod, attached namespace, etcd or the
// router. Pods are named namespace/name, or name alone with -n or when only one namespace has it:
// a name two namespaces share is refused rather than guessed.
import type { LabState } from './state.js';

export type TargetKind = 'node' | 'reflector' | 'pod' | 'attached' | 'etcd' | 'router';

export interface ExecTarget {
  kind: TargetKind;
  name: string;
  ns: string;
}

export function resolveTarget(s: LabState, target: string, namespace?: string): ExecTarget {
  const slash = target.indexOf('/');
  if (slash >= 0 || namespace !== undefined) {
    const [podNs, name] = slash >= 0 ? [target.slice(0, slash), target.slice(slash + 1)] : [namespace ?? '', target];
    if (slash >= 0 && namespace !== undefined && namespace !== podNs) throw new Error(`"${target}" names namespace ${podNs} but -n says ${namespace}`);
    const pod = s.pods.find((p) => p.namespace === podNs && p.name === name);
    if (!pod) throw new Error(`no pod ${podNs}/${name} (tortie-lab status lists the pods)`);
    return { kind: 'pod', name: `${podNs}/${name}`, ns: pod.ns };
  }
  const node = s.nodes.find((n) => n.name === target);
  if (node) return { kind: 'node', name: target, ns: node.ns };
  const attached = s.attached.find((a) => a.name === target);
  if (attached) return { kind: (s.reflectors ?? []).includes(target) ? 'reflector' : 'attached', name: target, ns: attached.ns };
  const pods = s.pods.filter((p) => p.name === target);
  if (pods.length > 1) throw new Error(`pod ${target} exists in namespaces ${pods.map((p) => p.namespace).join(', ')}: say which with -n NS or NS/${target}`);
  if (pods[0]) return { kind: 'pod', name: `${pods[0].namespace}/${target}`, ns: pods[0].ns };
  if (target === 'etcd') return { kind: 'etcd', name: target, ns: s.etcdNs };
  const member = s.etcdMembers?.find((m) => m.name === target);
  if (member) return { kind: 'etcd', name: target, ns: member.ns };
  if (target === 'router' && s.routerNs) return { kind: 'router', name: target, ns: s.routerNs };
  throw new Error(`no node, reflector, pod or attached namespace named "${target}"`);
}
