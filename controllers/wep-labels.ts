// On etcd, calico-kube-controllers' workloadendpoint controller copies a pod's label changes onto
// its existing WorkloadEndpoints (the CNI plugin wrote them at ADD); it never creates or deletes
// one. Labels under projectcalico.org/ are Calico's own (namespace, orchestrator, serviceaccount)
// and stay as they are. Pure.

export interface WepLabels {
  name: string;
  namespace: string;
  pod: string;
  labels: Record<string, string>;
}

const CALICO_LABEL = 'projectcalico.org/';

const same = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
};

/** The endpoints whose labels differ from their pod's, with the labels they should carry. */
export function planWepLabels(weps: readonly WepLabels[], podLabels: ReadonlyMap<string, Record<string, string>>): WepLabels[] {
  const out: WepLabels[] = [];
  for (const w of weps) {
    const pod = podLabels.get(`${w.namespace}/${w.pod}`);
    if (!pod) continue; // the pod is gone or not yet seen: not this controller's business
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(pod)) if (!k.startsWith(CALICO_LABEL)) labels[k] = v;
    for (const [k, v] of Object.entries(w.labels)) if (k.startsWith(CALICO_LABEL)) labels[k] = v;
    if (!same(labels, w.labels)) out.push({ ...w, labels });
  }
  return out;
}
