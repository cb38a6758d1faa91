#!/bin/bash
# make images: tortie/node, tortie/rr and tortie/controllers from the Containerfiles in images/, on the cached Debian
# bookworm root filesystems (images/rootfs.sh), with the bundles from build/ (make bundles) and the
# Node.js runtime of this machine. Tags VERSION (package.json) and latest; prints each image's size.
#   IMAGE_ARCHIVES=1 images/build.sh   also writes build/images/tortie-<name>-<version>.oci.tar
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
node_bin=$(command -v node)
[ -s build/tortie ] && [ -s build/tortie-node.mjs ] || { echo "images: build/ has no bundles; run make bundles" >&2; exit 1; }
"$node_bin" -e 'if (+process.versions.node.split(".")[0] < 20) process.exit(1)' \
  || { echo "images: $node_bin is Node.js $("$node_bin" --version); the images need 20 or later" >&2; exit 1; }
[ -x /usr/lib/cni/portmap ] || { echo "images: /usr/lib/cni/portmap missing (Debian's containernetworking-plugins; make debian-deps)" >&2; exit 1; }

declare -A base
while IFS='=' read -r name image; do base[$name]=$image; done < <(images/rootfs.sh)

# The build context is build/; the runtime pieces from this machine go beside the bundles.
mkdir -p build/runtime
cp -p "$(readlink -f "$node_bin")" build/runtime/node
cp -p /usr/lib/cni/portmap build/runtime/portmap

for name in node rr controllers; do
  image="localhost/tortie/$name"
  echo "==> podman build $image:$version" >&2
  # chroot isolation: the RUN steps need no OCI runtime or cgroups (crun refuses these machines').
  podman build --quiet --isolation chroot \
    --build-arg "BASE=${base[$name]:-${base[rr]}}" --build-arg "VERSION=$version" \
    -t "$image:$version" -t "$image:latest" -f "images/$name/Containerfile" build >/dev/null
  size=$(podman image inspect --format '{{.Size}}' "$image:$version")
  printf '%s:%s %s MB\n' "$image" "$version" "$(( (size + 500000) / 1000000 ))"
  if [ "${IMAGE_ARCHIVES:-0}" = 1 ]; then
    mkdir -p build/images
    podman save --quiet --format oci-archive -o "build/images/tortie-$name-$version.oci.tar" "$image:$version"
    echo "    saved build/images/tortie-$name-$version.oci.tar ($(du -h "build/images/tortie-$name-$version.oci.tar" | cut -f1))" >&2
  fi
done
