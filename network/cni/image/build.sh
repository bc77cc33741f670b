#!/usr/bin/env bash
# Builds the CNI plugin's container image offline, as an OCI layout, from what the host has:
# the CNI plugins of containernetworking-plugins (/usr/lib/cni) in /opt/cni/bin, iptables
# (nft) for portmap, firewall and ipMasq, busybox-static for a shell, kiln-cni-chain (which
# runs a CNI operation through a chain), and the shared libraries they need.
#
# Usage: network/cni/image/build.sh LAYOUT TAG KILN_CNI_CHAIN
# Does nothing when LAYOUT was built by this script from the same inputs.
set -euo pipefail

readonly here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BUSYBOX=/bin/busybox
readonly CNI_DIR=/usr/lib/cni
readonly XTABLES=/usr/sbin/xtables-nft-multi
readonly XTABLES_MODULES=/usr/lib/x86_64-linux-gnu/xtables
readonly APPLETS=(sh env sleep cat ls echo printf test mkdir rm)

die() { echo "cni image: $*" >&2; exit 1; }

[[ $# -eq 3 ]] || die "usage: $0 LAYOUT TAG KILN_CNI_CHAIN"
layout=$(realpath -m "$1")
tag=$2
chain=$3
[[ -x $chain ]] || die "$chain is missing"
for tool in umoci sha256sum ldd; do command -v "$tool" >/dev/null || die "$tool is required"; done
[[ -x $BUSYBOX ]] || die "$BUSYBOX is missing (apt-get install busybox-static)"
[[ -x $CNI_DIR/bridge ]] || die "$CNI_DIR/bridge is missing (apt-get install containernetworking-plugins)"
[[ -x $XTABLES ]] || die "$XTABLES is missing (apt-get install iptables)"

stamp=$( (sha256sum "$BUSYBOX" "$CNI_DIR"/* "$XTABLES" "$here"/build.sh "$chain"; echo "$tag") | sha256sum | cut -d' ' -f1)
if [[ -f $layout/.stamp && $(<"$layout/.stamp") == "$stamp" ]]; then touch "$layout/index.json"; exit 0; fi

work=$(mktemp -d "$(dirname "$layout")/.cni-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/bundle/rootfs

copy_with_libraries() {  # FILE DEST: the file, and every shared library it loads, at their paths
    local file=$1 dest=$2 lib
    install -D -m 0755 "$file" "$rootfs$dest"
    for lib in $(ldd "$file" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}'); do
        [[ -e $rootfs$lib ]] || install -D -m 0755 "$(realpath "$lib")" "$rootfs$lib"
    done
}

umoci init --layout "$work/oci"
umoci new --image "$work/oci:$tag"
umoci unpack --image "$work/oci:$tag" "$work/bundle"

install -d -m 0755 "$rootfs"/{bin,sbin,usr/sbin,etc,proc,sys,dev,run,opt/cni/bin,opt/kiln/cni/bin,var/lib/cni,usr/libexec/kiln}
install -d -m 1777 "$rootfs/tmp"
install -m 0755 "$BUSYBOX" "$rootfs/bin/busybox"
for applet in "${APPLETS[@]}"; do ln -sf busybox "$rootfs/bin/$applet"; done
for plugin in "$CNI_DIR"/*; do copy_with_libraries "$plugin" "/opt/cni/bin/$(basename "$plugin")"; done
copy_with_libraries "$XTABLES" /usr/sbin/xtables-nft-multi
for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-nft-multi "$rootfs/usr/sbin/$name"
done
for module in "$XTABLES_MODULES"/*.so; do copy_with_libraries "$module" "$module"; done
for f in /etc/protocols /etc/services /etc/ethertypes; do [[ -f $f ]] && install -m 0644 "$f" "$rootfs$f"; done
printf 'root:x:0:0:root:/:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
install -m 0755 "$chain" "$rootfs/usr/libexec/kiln/kiln-cni-chain"

umoci repack --image "$work/oci:$tag" --history.created_by "network/cni/image/build.sh" "$work/bundle"
umoci config --image "$work/oci:$tag" --os linux --architecture amd64 \
    --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --config.cmd /bin/sh --config.cmd -c --config.cmd "trap 'exit 0' TERM; while :; do sleep 3600 & wait \$!; done" \
    --history.created_by "network/cni/image/build.sh: config"
umoci gc --layout "$work/oci"
echo "$stamp" >"$work/oci/.stamp"
rm -rf "$layout"
mkdir -p "$(dirname "$layout")"
mv "$work/oci" "$layout"
