// On etcd, the node controller copies each Kubernetes Node's labels onto its Calico Node, as
// calico-kube-controllers does: the labels that came from Kubernetes are remembered in the Calico
// Node's `projectcalico.org/kube-labels` annotation, so a label removed in Kubernetes is removed in
// Calico too while labels set on the Calico Node by hand stay. Pure.

export const KUBE_LABELS_ANNOTATION = 'projectcalico.org/kube-labels';

export interface CalicoNodeLabels {
  labels: Record<string, string>;
  /** The annotation's value, parsed; undefined if absent or unreadable. */
  kubeLabels?: Record<string, string>;
}

export interface LabelUpdate {
  node: string;
  labels: Record<string, string>;
  /** The new annotation value. */
  kubeLabels: Record<string, string>;
}

export function parseKubeLabels(annotation: string | undefined): Record<string, string> | undefined {
  if (!annotation) return undefined;
  try {
    const v: unknown = JSON.parse(annotation);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return undefined;
  }
}

const same = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
};

export function planLabelSync(kubeNodes: ReadonlyMap<string, Record<string, string>>, calicoNodes: ReadonlyMap<string, CalicoNodeLabels>): LabelUpdate[] {
  const out: LabelUpdate[] = [];
  for (const [node, kubeLabels] of kubeNodes) {
    const cn = calicoNodes.get(node);
    if (!cn) continue; // tortie-node registers it; the controller never creates Calico Nodes
    const labels = { ...cn.labels };
    for (const k of Object.keys(cn.kubeLabels ?? {})) if (!(k in kubeLabels)) delete labels[k];
    Object.assign(labels, kubeLabels);
    if (!same(labels, cn.labels) || !same(kubeLabels, cn.kubeLabels ?? {}) || cn.kubeLabels === undefined) out.push({ node, labels, kubeLabels: { ...kubeLabels } });
  }
  return out;
}
