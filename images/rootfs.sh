#!/bin/bash
# Builds (once) the Debian bookworm root filesystems the images start from and imports each into
# podman as localhost/tortie/base-<name>:<key>. No registry is reachable, so there is no base image to
# pull: debootstrap fetches Debian's packages from the mirror; the result is cached as a tarball in
# /var/cache/tortie and reused until its package list or FORMAT changes (the key).
#   images/rootfs.sh            builds what is missing, prints the two image names
set -euo pipefail

CACHE=${TORTIE_IMAGE_CACHE:-/var/cache/tortie}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# What each image's processes run at run time, nothing for building.
# node: tortie-node calls ip, iptables(-save/-restore), ipset, conntrack, and modprobe (ipip);
# install-cni needs nothing more.
declare -A PACKAGES=(
  [node]="iproute2,iptables,ipset,conntrack,kmod"
  [rr]=""
)

# Bump when the way a rootfs is made changes (strip_rootfs, debootstrap options): rebuilds all.
FORMAT=1
mkdir -p "$CACHE/debs"

strip_rootfs() {
  # Documentation, locales, apt's lists and caches: nothing in the images reads them.
  local root=$1
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
    "$root"/var/cache/debconf/*-old "$root"/var/log/* "$root"/usr/share/common-licenses \
    "$root"/usr/share/lintian "$root"/usr/share/bash-completion
}

for name in node rr; do
  key=$(echo "$FORMAT $SUITE ${PACKAGES[$name]}" | sha256sum | cut -c1-12)
  tarball="$CACHE/rootfs-$name-$SUITE-$key.tar"
  image="localhost/tortie/base-$name:$SUITE-$key"
  if [ ! -s "$tarball" ]; then
    echo "==> debootstrap $SUITE ($name: minbase${PACKAGES[$name]:+ + ${PACKAGES[$name]}}) from $MIRROR — first time only, a few minutes" >&2
    rm -f "$CACHE/rootfs-$name-$SUITE-"*.tar # older keys
    root=$(mktemp -d "$CACHE/rootfs-$name.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    include=()
    [ -n "${PACKAGES[$name]}" ] && include=(--include="${PACKAGES[$name]}")
    # Progress: a package's download (first run only: the .debs are cached too) and each stage.
    debootstrap --variant=minbase "${include[@]}" --cache-dir="$CACHE/debs" "$SUITE" "$root" "$MIRROR" 2>&1 \
      | grep --line-buffered -E '^I: (Retrieving [^ ]+ |Installing core|Configuring required|Unpacking the base|Configuring the base|Base system)|^[WE]:' >&2
    strip_rootfs "$root"
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
    echo "==> cached $tarball ($(du -h "$tarball" | cut -f1))" >&2
  fi
  if ! podman image exists "$image"; then
    echo "==> podman import $tarball as $image" >&2
    podman import --quiet "$tarball" "$image" >/dev/null
    # Base images of older keys are no longer built on.
    podman images --format '{{.Repository}}:{{.Tag}}' "localhost/tortie/base-$name" | grep -vx "$image" | xargs -r podman rmi >/dev/null 2>&1 || true
  fi
  echo "$name=$image"
done
