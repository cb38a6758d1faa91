#!/usr/bin/env bash
# One real Kubernetes node on this machine: Debian's containerd (runc) and kubelet v1.36 (built by
# `test/k8s/build.sh kubelet`), registered to the lab's kube-apiserver as lab host node1, with
# Tortie's CNI plugins and conflist exactly as install-cni wrote them on that host. A Pod bound to
# node1 should get its sandbox from containerd and its address from Tortie's IPAM (status.podIPs).
#
#   sudo test/k8s/kubelet-node.sh        # exit 0 only if the Pod ran with an address from the pool
#
# Needs root, `make images` (tortie/node, tortie/controllers) and `apt-get install containerd`.
# Everything it starts is removed on exit, also on failure: the Pod, kubelet, containerd, its shims
# and containers, their cgroups, the lab (prefix $TORTIE_LAB_PREFIX, default tk-) and the work dir.
# containerd and kubelet run in node1's network namespace and in a private mount namespace where
# node1's directories are bind-mounted at the paths a real host has them (/etc/cni/net.d,
# /opt/cni/bin, /var/run/tortie, /var/lib/calico; /run/netns a tmpfs): their mounts die with it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export TORTIE_LAB_PREFIX="${TORTIE_LAB_PREFIX:-tk-}" TORTIE_LAB_STATE="${TORTIE_LAB_STATE:-/run/tortie-kubelet-lab}"
export TORTIE_KUBELET_WORK="${TORTIE_KUBELET_WORK:-/run/tortie-kubelet-node}"
work="$TORTIE_KUBELET_WORK"
pause=localhost/tortie/kubelet-pause:0.1
cgroot="tortie-kubelet-${TORTIE_LAB_PREFIX%-}"   # kubelet's cgroupRoot, one per run
node=node1 node_ip=10.0.0.11

# --- inside the node's namespaces (the script re-runs itself here) -------------------------------
if [ "${1:-}" = __node ]; then
  state="$TORTIE_LAB_STATE/$node"
  mount --make-rprivate /
  bind() { mkdir -p "$2"; mount --bind "$1" "$2"; }
  bind "$state/etc-cni-net.d" /etc/cni/net.d
  # /opt/cni/bin: what install-cni copied, beside the distribution's loopback plugin, which
  # containerd's CRI runs for every sandbox (kubeadm hosts get it from kubernetes-cni).
  mkdir -p /opt/cni/bin && mount -t tmpfs tmpfs /opt/cni/bin
  for f in "$state"/opt-cni-bin/* /usr/lib/cni/loopback; do
    touch "/opt/cni/bin/${f##*/}" && mount --bind "$f" "/opt/cni/bin/${f##*/}"
  done
  bind "$state/var-lib-calico" /var/lib/calico
  # tortie-node serves the plugins at /var/run/tortie/cni.sock on a real host; the lab keeps it in its state dir.
  mkdir -p /var/run/tortie && mount -t tmpfs tmpfs /var/run/tortie
  touch /var/run/tortie/cni.sock && mount --bind "$TORTIE_LAB_STATE/$node-cni.sock" /var/run/tortie/cni.sock
  mount -t tmpfs tmpfs /run/netns   # the pods' namespaces (containerd bind-mounts them here)
  containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
  for _ in $(seq 60); do [ -S "$work/containerd.sock" ] && break; sleep 1; done
  ctr -a "$work/containerd.sock" -n k8s.io images import "$work/pause.tar" >"$work/ctr-import.log" 2>&1
  kubelet --config "$work/kubelet.yaml" --kubeconfig "$TORTIE_LAB_STATE/kube/kubeconfig" \
    --hostname-override "$node" --node-ip "$node_ip" --root-dir "$work/kubelet" --v=2 \
    >"$work/kubelet.log" 2>&1 &
  wait -n   # either one exiting ends the node
  exit 1
fi

[ "$(id -u)" = 0 ] || { echo "kubelet-node.sh: run as root" >&2; exit 1; }
for c in containerd ctr runc buildah podman /usr/lib/cni/loopback; do
  command -v "$c" >/dev/null || { echo "kubelet-node.sh: '$c' is missing (apt-get install containerd runc buildah podman containernetworking-plugins)" >&2; exit 1; }
done
bins="$("$here/build.sh" kubelet | tail -1)"
export PATH="$bins:$PATH"
kubectl() { nsenter --net="/run/netns/${TORTIE_LAB_PREFIX}$node" "$bins/kubectl" --kubeconfig "$TORTIE_LAB_STATE/kube/kubeconfig" "$@"; }
lab() { (cd "$repo" && npx tsx lab/main.ts "$@"); }
say() { echo "==> $*" >&2; }
node_pid=
made=()   # mount points this run had to create on the host (removed again if still empty)

cleanup() {
  local rc=$?
  set +e
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kubectl delete pod kubelet-probe --wait=true --timeout=60s >/dev/null 2>&1  # kubelet stops it: CNI DEL
  fi
  # kubelet and containerd are the node shell's children; the shims and containers left their group.
  local shims
  shims="$(pgrep -f -- "-address $work/containerd.sock" || true)"
  [ -n "$node_pid" ] && kill -- "-$node_pid" 2>/dev/null
  for p in $shims; do for c in $(pgrep -P "$p"); do kill -9 "$c" 2>/dev/null; done; kill -9 "$p" 2>/dev/null; done
  [ -n "$node_pid" ] && wait "$node_pid" 2>/dev/null
  for d in /sys/fs/cgroup/*/"$cgroot"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  lab down >/dev/null 2>&1
  podman rmi -f "$pause" >/dev/null 2>&1
  if [ "$rc" != 0 ] && [ -d "$work" ]; then
    echo "---- last lines of $work/kubelet.log (errors) ----" >&2
    grep -E '^[EF][0-9]{4}' "$work/kubelet.log" 2>/dev/null | cut -c1-400 | tail -6 >&2
    echo "---- containerd errors ----" >&2
    grep -E 'level=(error|fatal)' "$work/containerd.log" 2>/dev/null | cut -c1-400 | tail -4 >&2
    [ -n "${KEEP_LOGS:-}" ] && cp -r "$work" "$KEEP_LOGS" 2>/dev/null
  fi
  rm -rf "$work"
  rmdir /run/containerd/s /run/containerd 2>/dev/null   # containerd 1.6 keeps its shims' sockets there
  [ "${#made[@]}" -gt 0 ] && rmdir "${made[@]}" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$work" && mkdir -p "$work"
say "lab on the Kubernetes datastore, one host, tortie-node from its image (install-cni first)"
lab down >/dev/null 2>&1 || true
lab up --datastore kubernetes --containers --nodes 1 --pods-per-node 0 >"$work/lab.log" 2>&1 || { cat "$work/lab.log" >&2; exit 1; }

say "the sandbox image $pause: busybox (static) on scratch, no registry needed"
ctr_=$(buildah from scratch)
buildah copy "$ctr_" /usr/bin/busybox /bin/busybox >/dev/null
buildah config --entrypoint '["/bin/busybox","sh","-c","trap \"exit 0\" TERM INT; while :; do /bin/busybox sleep 3600 & wait $!; done"]' "$ctr_"
buildah commit -q --rm "$ctr_" "$pause" >/dev/null
podman save -q --format docker-archive -o "$work/pause.tar" "$pause"

cat >"$work/containerd.toml" <<EOF
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
[grpc]
  address = "$work/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  # Not below containerd's own oom_score_adj: the CRI asks -998 for a sandbox, and lowering it needs
  # CAP_SYS_RESOURCE, which this machine's sandbox lacks (runc then fails in nsexec).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
        Root = "$work/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
EOF

cat >"$work/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$work/containerd.sock
# This machine has cgroup v1 (hybrid); kubelet 1.35+ refuses it unless told not to.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$cgroot
failSwapOn: false
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
podLogsDir: $work/pod-logs
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF

while IFS= read -r d; do made=("$d" "${made[@]}"); done < <(
  mkdir -pv /etc/cni/net.d /opt/cni/bin /var/lib/calico /var/run/tortie | sed -n "s/^mkdir: created directory '\(.*\)'$/\1/p")
# kubelet's cgroupRoot must exist in every hierarchy (cgroup v1: one per controller).
for d in /sys/fs/cgroup/*/; do mkdir -p "$d$cgroot"; done
say "containerd $(containerd --version | awk '{print $3}') and kubelet $(kubelet --version | awk '{print $2}') in $node's namespace"
setsid unshare -m --propagation private -- nsenter --net="/run/netns/${TORTIE_LAB_PREFIX}$node" -- "$here/kubelet-node.sh" __node &
node_pid=$!

say "waiting for kubelet to report $node Ready"
ready=
for _ in $(seq 120); do
  kill -0 "$node_pid" 2>/dev/null || { echo "kubelet-node.sh: the node's processes exited" >&2; exit 1; }
  ready="$(kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}' 2>/dev/null || true)"
  case "$ready" in True*) break ;; esac
  sleep 2
done
say "node $node: Ready=${ready:-?}"
case "$ready" in True*) ;; *) kubectl get node "$node" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.message}{"\n"}{end}' >&2 || true; exit 1 ;; esac

say "a Pod bound to $node"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: kubelet-probe, namespace: default, labels: {app: kubelet-probe}}
spec:
  nodeName: $node
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: $pause
    imagePullPolicy: Never
EOF
kubectl wait pod/kubelet-probe --for=condition=Ready --timeout=180s >&2 || {
  kubectl describe pod kubelet-probe | tail -15 >&2; exit 1; }
ip="$(kubectl get pod kubelet-probe -o jsonpath='{.status.podIPs[0].ip}')"
pool="$(kubectl get ippools.crd.projectcalico.org -o jsonpath='{.items[0].spec.cidr}')"
inpool='const [a, l] = process.argv[2].split("/"); const b = new (require("net").BlockList)(); b.addSubnet(a, +l); process.exit(b.check(process.argv[1]) ? 0 : 1)'
node -e "$inpool" "$ip" "$pool" || { echo "kubelet-node.sh: status.podIPs[0] '$ip' is not in the IP pool $pool" >&2; exit 1; }
say "Pod kubelet-probe Running on $node, status.podIPs[0] = $ip (in the pool $pool)"
podip="$(kubectl get pod kubelet-probe -o jsonpath='{.metadata.annotations.cni\.projectcalico\.org/podIP}')"
[ "$podip" = "$ip/32" ] || { echo "kubelet-node.sh: the Pod's cni.projectcalico.org/podIP is '$podip', not $ip/32" >&2; exit 1; }
say "Tortie's plugin annotated it: cni.projectcalico.org/podIP=$podip"
# Inside the Pod, through its container's process (kubectl exec would need the apiserver to resolve
# the lab's node names: it dials kubelet at its Hostname address first).
pid="$(ctr -a "$work/containerd.sock" -n k8s.io tasks ls | awk '$3 == "RUNNING" { print $2; exit }')"
say "inside the Pod: $(nsenter -t "$pid" -n ip -4 -o addr show | awk '$2 != "lo" { print $2, $4 }')"
nsenter --net="/run/netns/${TORTIE_LAB_PREFIX}$node" ping -c1 -W5 "$ip" >/dev/null
say "$node reaches the Pod at $ip"
[ -n "${TORTIE_KUBELET_HOLD:-}" ] && { say "holding for $TORTIE_KUBELET_HOLD s (TORTIE_KUBELET_HOLD)"; sleep "$TORTIE_KUBELET_HOLD"; }
say "deleting the Pod: kubelet stops it, containerd runs CNI DEL"
kubectl delete pod kubelet-probe --wait=true --timeout=90s >/dev/null
handles="$(kubectl get ipamhandles.crd.projectcalico.org -o name)"
[ -z "$handles" ] || { echo "kubelet-node.sh: the Pod is gone but its IPAM handle is not: $handles" >&2; exit 1; }
say "its address is released (no IPAMHandle left)"
echo "kubelet-node: OK ($ip)"
