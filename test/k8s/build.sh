#!/usr/bin/env bash
# Builds kube-apiserver and kubectl once per machine into /var/cache/tortie/k8s-<version>/, for the
# tests and the lab; `build.sh kubelet` builds kubelet as well (only test/k8s/kubelet-node.sh needs
# it: make test never asks for it). The version is the k8s.io/kubernetes requirement in this
# directory's go.mod (the one place it is pinned); sources come from the Go module proxy, none are
# kept in the repo.
# Prints the directory holding the binaries as its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
if [ -z "$version" ]; then
  echo "test/k8s/build.sh: no k8s.io/kubernetes requirement in $here/go.mod" >&2
  exit 1
fi
cache="${TORTIE_K8S_CACHE:-/var/cache/tortie}/k8s-$version"
bins=(kube-apiserver kubectl)
case "${1:-}" in
  '') ;;
  kubelet) bins+=(kubelet) ;;
  *) echo "usage: test/k8s/build.sh [kubelet]" >&2; exit 2 ;;
esac

have_all() {
  for b in "${bins[@]}"; do [ -x "$cache/$b" ] || return 1; done
}

if ! have_all; then
  command -v go >/dev/null 2>&1 || { echo "test/k8s/build.sh: 'go' is not installed (Go >= 1.26 builds kube-apiserver $version)" >&2; exit 1; }
  mkdir -p "$cache"
  # Build into a private directory and move into place, so an interrupted build never leaves a
  # half-written binary that a later run would take for a finished one.
  tmp="$(mktemp -d "$cache/.build-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  missing=()
  for b in "${bins[@]}"; do [ -x "$cache/$b" ] || missing+=("$b"); done
  echo "==> building ${missing[*]} $version from the Go module proxy (first time only, ~5 min on 2 cores; kubelet ~15 min more)" >&2
  start=$(date +%s)
  # The version stamp is what kubelet reports in its Node's status.nodeInfo.kubeletVersion.
  (cd "$here" && go build -trimpath \
    -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version" -o "$tmp/" \
    "${missing[@]/#/k8s.io/kubernetes/cmd/}")
  for b in "${missing[@]}"; do mv -f "$tmp/$b" "$cache/$b"; done
  echo "==> built ${missing[*]} $version in $(( $(date +%s) - start )) s: $cache" >&2
fi
echo "$cache"
