#!/usr/bin/env bash
# Installs what kiln needs on Debian 12 (build tools, libraries, the runtimes and tools the tests
# drive), then configures and builds. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages)" >&2
    exit 1
fi

PACKAGES=(
    # build
    cmake ninja-build ccache g++ pkg-config
    libboost1.81-dev libboost-url1.81-dev libboost-filesystem1.81-dev
    libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libcli11-dev
    libseccomp-dev libcap-dev libarchive-dev libssl-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    # the demo and the tests
    busybox-static iproute2 iptables procps python3 util-linux
    runc crun podman conmon containerd docker.io umoci skopeo
    docker-registry apache2-utils openssl curl
    containernetworking-plugins fuse-overlayfs slirp4netns uidmap catatonit
    # benchmarks
    hyperfine time
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The packages start daemons where an init system runs; the tests start their own.
for unit in docker containerd docker-registry; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
        systemctl stop "$unit" || true
    fi
done

BUILD_DIR=${KILN_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
