#!/usr/bin/env bash
# Builds the metrics plugin's container image offline, as an OCI layout: kiln-metrics-server
# (static) alone.
#
# Usage: plugins/metrics/image/build.sh LAYOUT TAG KILN_METRICS_SERVER
set -euo pipefail
die() { echo "metrics image: $*" >&2; exit 1; }
[[ $# -eq 3 ]] || die "usage: $0 LAYOUT TAG KILN_METRICS_SERVER"
layout=$(realpath -m "$1")
tag=$2
server=$3
[[ -x $server ]] || die "$server is missing"
command -v umoci >/dev/null || die "umoci is required"
stamp=$( (sha256sum "$server" "${BASH_SOURCE[0]}"; echo "$tag") | sha256sum | cut -d' ' -f1)
if [[ -f $layout/.stamp && $(<"$layout/.stamp") == "$stamp" ]]; then touch "$layout/index.json"; exit 0; fi
work=$(mktemp -d "$(dirname "$layout")/.metrics-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/oci"
umoci new --image "$work/oci:$tag"
umoci unpack --image "$work/oci:$tag" "$work/bundle"
install -d -m 0755 "$work/bundle/rootfs"/{srv,proc,sys,dev,etc}
install -m 0755 "$server" "$work/bundle/rootfs/kiln-metrics-server"
printf 'nobody:x:65534:65534:nobody:/:/nonexistent\n' >"$work/bundle/rootfs/etc/passwd"
umoci repack --image "$work/oci:$tag" --history.created_by "plugins/metrics/image/build.sh" "$work/bundle"
umoci config --image "$work/oci:$tag" --os linux --architecture amd64 \
    --config.entrypoint /kiln-metrics-server --config.cmd /srv \
    --history.created_by "plugins/metrics/image/build.sh: config"
umoci gc --layout "$work/oci"
echo "$stamp" >"$work/oci/.stamp"
rm -rf "$layout"
mv "$work/oci" "$layout"
