# A private containerd for the compat tests: config, sockets, root and state all in the scratch dir.
# Sourced after lib.sh by containerd.sh and docker.sh.

CONTAINERD_DIR=""    # everything this containerd owns
CONTAINERD_SOCK=""   # its gRPC socket

# containerd_start: writes the config, starts containerd and waits until it answers.
containerd_start() {
    CONTAINERD_DIR=$TEST_DIR/containerd
    CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock
    mkdir -p "$CONTAINERD_DIR"
    # The CRI plugin would want CNI and a sandbox image; the snapshotters listed need filesystems or
    # devices we do not have. opt defaults to /opt/containerd, which it creates on load.
    cat >"$CONTAINERD_DIR/config.toml" <<EOF
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_DIR/containerd-ttrpc.sock"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"
EOF
    on_cleanup _containerd_remove_host_dirs "$([[ -e /run/containerd ]] && echo keep || echo remove)"
    start_daemon containerd containerd --config "$CONTAINERD_DIR/config.toml"
    if ! wait_for 20 "containerd answering on $CONTAINERD_SOCK" \
        command ctr --address "$CONTAINERD_SOCK" version; then
        daemon_log_tail containerd
        die "containerd did not start"
    fi
}

# containerd_remove_all NAMESPACE: kills and deletes every task and container, then removes images.
containerd_remove_all() {
    local namespace=$1 id
    local -a ctr_ns=(command ctr --address "$CONTAINERD_SOCK" --namespace "$namespace")
    for id in $("${ctr_ns[@]}" task list --quiet 2>/dev/null); do
        "${ctr_ns[@]}" task resume "$id" >/dev/null 2>&1 || true
        "${ctr_ns[@]}" task kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $("${ctr_ns[@]}" task list --quiet 2>/dev/null); do
        "${ctr_ns[@]}" task delete --force "$id" >/dev/null 2>&1 ||
            log "ctr task delete --force $id failed"
    done
    for id in $("${ctr_ns[@]}" container list --quiet 2>/dev/null); do
        "${ctr_ns[@]}" container delete "$id" >/dev/null 2>&1 || log "ctr container delete $id failed"
    done
    for id in $("${ctr_ns[@]}" image list --quiet 2>/dev/null); do
        "${ctr_ns[@]}" image remove "$id" >/dev/null 2>&1 || true
    done
}

# Whatever its state dir, containerd 1.6 puts shim sockets in /run/containerd/s, and the runc v2
# shim creates /run/containerd/runc/<namespace> even when told to use another runtime root. The
# sockets go with their shims; the directories stay unless removed.
_containerd_remove_host_dirs() {
    remove_empty_dirs /run/containerd/runc/"$TEST_ID"*
    [[ $1 == remove ]] && remove_empty_dirs /run/containerd/runc /run/containerd/s /run/containerd
    return 0
}
