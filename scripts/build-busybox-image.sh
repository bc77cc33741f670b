#!/usr/bin/env bash
# Builds the busybox test image offline from /bin/busybox: an OCI layout plus oci- and docker-archives.
#
# Usage: scripts/build-busybox-image.sh OUTDIR
#   OUTDIR/oci                 OCI image layout, tag "latest"
#   OUTDIR/busybox.oci.tar     oci-archive (for `ctr images import`, `podman load`)
#   OUTDIR/busybox.docker.tar  docker-archive tagged localhost/kiln-busybox:latest (for `docker load`)
# Does nothing when OUTDIR already holds all three, built by this script from the same busybox.
set -euo pipefail

readonly IMAGE_NAME="localhost/kiln-busybox:latest"
readonly BUSYBOX=/bin/busybox
# Applets the compat tests rely on; the build fails if busybox lacks one.
readonly REQUIRED_APPLETS=(sh true false echo cat sleep id ls ps grep top kill env hostname mount wc
                           head yes uname tty test)

die() { echo "build-busybox-image: $*" >&2; exit 1; }

require_tools() {
    local tool
    for tool in umoci skopeo sha256sum; do
        command -v "$tool" >/dev/null || die "$tool is required (apt-get install $tool)"
    done
    [[ -x $BUSYBOX ]] || die "$BUSYBOX is missing (apt-get install busybox-static)"
    # The image has no libc: a dynamically linked busybox would not start in it.
    if ldd "$BUSYBOX" >/dev/null 2>&1; then
        die "$BUSYBOX is dynamically linked (install busybox-static, not busybox)"
    fi
}

# Identifies the inputs: a rebuild happens only when busybox or this script changes.
input_stamp() {
    sha256sum "$BUSYBOX" "${BASH_SOURCE[0]}" | awk '{print $1}' | sha256sum | awk '{print $1}'
}

populate_rootfs() {
    local rootfs=$1 applet
    install -d -m 0755 "$rootfs"/{bin,etc,root,proc,sys,dev}
    install -d -m 1777 "$rootfs/tmp"
    install -m 0755 "$BUSYBOX" "$rootfs/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [[ $applet == busybox || $applet == *'/'* ]] && continue
        ln -sf busybox "$rootfs/bin/$applet"
    done
    for applet in "${REQUIRED_APPLETS[@]}"; do
        [[ -L $rootfs/bin/$applet ]] || die "busybox has no '$applet' applet"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
                  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$rootfs/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$rootfs/etc/group"
    chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
}

build_layout() {
    local work=$1 layout=$1/oci bundle=$1/bundle
    umoci init --layout "$layout"
    umoci new --image "$layout:latest"
    # As root the files are really root-owned; unprivileged, umoci records them as root anyway.
    local rootless=()
    [[ $EUID -eq 0 ]] || rootless=(--rootless)
    umoci unpack "${rootless[@]}" --image "$layout:latest" "$bundle"
    populate_rootfs "$bundle/rootfs"
    umoci repack --image "$layout:latest" \
        --history.created_by "scripts/build-busybox-image.sh: /bin/busybox and applet links" "$bundle"
    umoci config --image "$layout:latest" \
        --os linux --architecture amd64 \
        --config.cmd sh \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --history.created_by "scripts/build-busybox-image.sh: config"
    umoci gc --layout "$layout"
    rm -rf "$bundle"
}

# skopeo run as root always records blob digests in /var/lib/containers/cache, with no flag to move
# it; a private mount namespace with a tmpfs on /var/lib keeps that file off the host. Unprivileged,
# it uses $XDG_DATA_HOME instead.
skopeo_isolated() {
    local work=$1; shift
    if [[ $EUID -eq 0 ]]; then
        unshare --mount --propagation private -- \
            sh -c 'mount -t tmpfs -o size=64m kiln-skopeo /var/lib && exec skopeo "$@"' skopeo "$@"
    else
        XDG_DATA_HOME=$work/xdg-data skopeo "$@"
    fi
}

export_archives() {
    local work=$1
    # --insecure-policy: local-to-local copies, no signatures involved, and no dependence on
    # /etc/containers/policy.json being present.
    skopeo_isolated "$work" --insecure-policy --tmpdir "$work" copy --quiet "oci:$work/oci:latest" \
        "oci-archive:$work/busybox.oci.tar:$IMAGE_NAME"
    skopeo_isolated "$work" --insecure-policy --tmpdir "$work" copy --quiet "oci:$work/oci:latest" \
        "docker-archive:$work/busybox.docker.tar:$IMAGE_NAME"
}

main() {
    [[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
    require_tools
    local outdir stamp work
    outdir=$(realpath -m "$1")
    stamp=$(input_stamp)
    if [[ -f $outdir/.stamp && $(<"$outdir/.stamp") == "$stamp" && -d $outdir/oci
          && -f $outdir/busybox.oci.tar && -f $outdir/busybox.docker.tar ]]; then
        echo "build-busybox-image: $outdir is up to date"
        return 0
    fi
    mkdir -p "$outdir"
    work=$(mktemp -d "$outdir/.build.XXXXXX")
    # shellcheck disable=SC2064 # expand now: $work is local
    trap "rm -rf '$work'" EXIT
    build_layout "$work"
    export_archives "$work"

    rm -rf "$outdir/oci" "$outdir/busybox.oci.tar" "$outdir/busybox.docker.tar" "$outdir/.stamp"
    mv "$work/oci" "$work/busybox.oci.tar" "$work/busybox.docker.tar" "$outdir/"
    echo "$stamp" >"$outdir/.stamp"
    echo "build-busybox-image: wrote $outdir/{oci,busybox.oci.tar,busybox.docker.tar} ($IMAGE_NAME)"
}

main "$@"
