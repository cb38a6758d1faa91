# Two entry points for a fresh Debian machine with Node 20, as root:
#   make demo   — the local lab (the main job)
#   make test   — lint, type check and every test (what CI runs)
SHELL := /bin/bash
DEBIAN_PACKAGES := etcd-server etcd-client iproute2 iptables ipset bird2 gobgpd tcpdump \
	containernetworking-plugins iputils-ping netcat-openbsd procps conntrack openssl
DEBIAN_COMMANDS := etcd etcdctl ip iptables ipset bird gobgpd tcpdump ping nc pgrep conntrack openssl
# The IPIP tests boot Debian's own kernel in qemu: this kernel has no ipip module.
VM_PACKAGES := qemu-system-x86 linux-image-amd64 busybox-static

.PHONY: deps debian-deps vm-deps node-deps k8s-bins crds build demo test lint typecheck unit integration clean bundles image-deps images image-archives

debian-deps:
	@missing=""; for c in $(DEBIAN_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; \
	  done; [ -e /usr/lib/cni/portmap ] || missing="$$missing portmap"; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing Debian packages (missing:$$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES) >/dev/null; \
	fi

# Only `make test` needs these (test/e2e/lab-ipip.test.ts); installed only when a piece is missing.
# INITRD=No: the VM boots its own small initramfs; Debian's is not needed (its kernel hook skips it).
vm-deps:
	@missing=""; for c in qemu-system-x86_64 busybox cpio modinfo; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	ls /boot/vmlinuz-* >/dev/null 2>&1 || missing="$$missing kernel"; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing the IPIP VM's packages (missing:$$missing)"; \
	  apt-get update -qq && INITRD=No DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(VM_PACKAGES) cpio kmod >/dev/null; \
	fi

node-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: debian-deps node-deps

# kube-apiserver and kubectl for the Kubernetes-datastore tests, built once per machine from the
# version test/k8s/go.mod pins, cached in /var/cache/tortie/k8s-<version>/ (test/harness/kube.ts).
k8s-bins:
	@test/k8s/build.sh >/dev/null

# manifests/crds/ from the resource model (a unit test fails when they drift apart).
crds: node-deps
	npx tsx test/k8s/write-crds.ts

build: node-deps
	npm run --silent build

lint: node-deps
	npm run --silent lint

typecheck: node-deps
	npm run --silent typecheck

unit: build
	npx vitest run --project unit

integration: deps k8s-bins build images
	npx vitest run --project integration

# The last lines name each failed test; the very last is the plain "N passed, N failed" summary CI reads.
# images: test/e2e/images.test.ts runs them (the first time debootstraps Debian: 1–2 minutes).
# k8s-bins: kube-apiserver and kubectl for the Kubernetes-datastore tests (the first time ~5 minutes).
test: deps vm-deps k8s-bins build lint typecheck images
	@mkdir -p .test-results
	@status=0; \
	echo "==> the slow suites (IPIP in qemu, etcd faults) run in a second process beside the rest; their output follows at the end"; \
	TORTIE_TEST_DIST=1 npx vitest run --project slow --reporter=default --reporter=json --outputFile.json=.test-results/slow.json > .test-results/slow.log 2>&1 & slow=$$!; \
	TORTIE_TEST_DIST=1 npx vitest run --project unit --project integration --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json || status=$$?; \
	wait $$slow || status=$$?; \
	echo "==> the slow suites:"; cat .test-results/slow.log; \
	node test/summary.mjs .test-results/vitest.json .test-results/slow.json || true; \
	exit $$status

# esbuild bundles of each program in build/ (no node_modules needed beside them) and the CNI
# plugins as one self-contained executable (a Node single executable application): images/bundle.ts.
bundles: node-deps
	npx tsx images/bundle.ts

# What `make images` runs on (Debian's): podman and buildah build, debootstrap makes the base
# root filesystem (no registry is reachable), runc runs containers (crun refuses hybrid cgroups).
IMAGE_PACKAGES := podman buildah debootstrap runc containernetworking-plugins
image-deps:
	@missing=""; for c in podman buildah debootstrap runc; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	[ -e /usr/lib/cni/portmap ] || missing="$$missing portmap"; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing the image tools (missing:$$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(IMAGE_PACKAGES) >/dev/null; \
	fi

# tortie/node, tortie/rr and tortie/controllers (tag: package.json's version, and latest) from images/*/Containerfile on
# a Debian bookworm rootfs debootstrapped once into /var/cache/tortie (about a minute the first time).
images: image-deps bundles
	images/build.sh

# The same, plus build/images/tortie-{node,rr,controllers}-<version>.oci.tar for `podman load` / `ctr import`.
image-archives: image-deps bundles
	IMAGE_ARCHIVES=1 images/build.sh

demo: deps build
	./bin/tortie-lab demo

clean:
	rm -rf dist build
