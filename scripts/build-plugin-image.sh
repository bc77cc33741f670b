#!/usr/bin/env bash
# Builds a plugin's container image offline, as an OCI layout: one program at /<its name>, run as
# the image's entrypoint, with the shared libraries it loads (none for a static one), and the
# empty directories the plugin mounts things on.
#
# Usage: scripts/build-plugin-image.sh LAYOUT TAG PROGRAM [DIR...]
# Does nothing when LAYOUT was built by this script from the same program, tag and dirs.
set -euo pipefail
die() { echo "build-plugin-image: $*" >&2; exit 1; }
[[ $# -ge 3 ]] || die "usage: $0 LAYOUT TAG PROGRAM [DIR...]"
layout=$(realpath -m "$1")
tag=$2
program=$3
shift 3
[[ -x $program ]] || die "$program is missing"
command -v umoci >/dev/null || die "umoci is required (apt-get install umoci)"
libraries=$(ldd "$program" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}' || true)
stamp=$( (sha256sum "$program" "${BASH_SOURCE[0]}" $libraries; echo "$tag $*") | sha256sum | cut -d' ' -f1)
if [[ -f $layout/.stamp && $(<"$layout/.stamp") == "$stamp" ]]; then touch "$layout/index.json"; exit 0; fi
mkdir -p "$(dirname "$layout")"
work=$(mktemp -d "$(dirname "$layout")/.plugin-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
name=$(basename "$program")
umoci init --layout "$work/oci"
umoci new --image "$work/oci:$tag"
umoci unpack --image "$work/oci:$tag" "$work/bundle"
rootfs=$work/bundle/rootfs
install -d -m 0755 "$rootfs"/{proc,sys,dev,etc,tmp}
for dir in "$@"; do install -d -m 0755 "$rootfs$dir"; done
install -m 0755 "$program" "$rootfs/$name"
for lib in $libraries; do install -D -m 0755 "$(realpath "$lib")" "$rootfs$lib"; done
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n' >"$rootfs/etc/passwd"
umoci repack --image "$work/oci:$tag" --history.created_by "scripts/build-plugin-image.sh $name" "$work/bundle"
umoci config --image "$work/oci:$tag" --os linux --architecture amd64 --config.entrypoint "/$name" \
    --history.created_by "scripts/build-plugin-image.sh: config"
umoci gc --layout "$work/oci"
echo "$stamp" >"$work/oci/.stamp"
rm -rf "$layout"
mv "$work/oci" "$layout"
