#!/usr/bin/env bash
# Compat: containerd's runc v2 shim (via ctr) driving the runtime under test, on a private containerd.
#
# Usage: tests/compat/containerd.sh RUNTIME [IMAGE_DIR]
#
# shellcheck disable=SC2016 # $vars in single quotes are for the shell inside the container
# shellcheck disable=SC2317 # test_* functions are called through run_test
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=containerd-daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/containerd-daemon.sh"

compat_require containerd ctr containerd-shim-runc-v2 umoci skopeo
compat_init containerd "$@"

# The namespace is the test id, so containers land in cgroups /<test id>/<container id>.
CTR_ARGS=()
RUN_ARGS=()

setup_containerd() {
    containerd_start
    CTR_ARGS=(--address "$CONTAINERD_SOCK" --namespace "$TEST_ID")
    # --runc-binary/--runc-root become the shim's runtime options (BinaryName, Root): the shim runs
    # RUNTIME --root $TEST_DIR/runtime-root/<namespace> for every operation on the container.
    RUN_ARGS=(--runtime io.containerd.runc.v2 --runc-binary "$RUNTIME"
              --runc-root "$TEST_DIR/runtime-root" --fifo-dir "$TEST_DIR/fifo")
    on_cleanup containerd_remove_all "$TEST_ID"
    ctr images import "$IMAGE_DIR/busybox.oci.tar" >/dev/null
}

ctr() { command ctr "${CTR_ARGS[@]}" "$@"; }
ctr_run() { ctr run "${RUN_ARGS[@]}" "$@"; }
ctr_exec() { ctr task exec --fifo-dir "$TEST_DIR/fifo" "$@"; }

task_status() { ctr task list | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { ctr task list | awk -v id="$1" '$1 == id { print $2 }'; }
status_is() { [[ $(task_status "$1") == "$2" ]]; }

# start_detached ID [RUN_FLAGS...] CMD...: a running task, checked to be RUNNING.
start_detached() {
    local id=$1 flags=()
    shift
    while [[ $1 == --* ]]; do
        flags+=("$1" "$2")
        shift 2
    done
    ctr_run --detach "${flags[@]}" "$IMAGE_REF" "$id" "$@"
    wait_for 10 "task $id running" status_is "$id" RUNNING
}

remove_container() {
    ctr task kill --all --signal SIGKILL "$1" >/dev/null 2>&1 || true
    wait_for 10 "task $1 stopped" status_is "$1" STOPPED
    ctr task delete "$1" >/dev/null 2>&1
    ctr container delete "$1"
}

# ---------------------------------------------------------------------------------------------

test_run_exit_codes() {
    expect_run "true exits 0" 0 "" ctr_run --rm "$IMAGE_REF" rc-true true
    expect_run "false exits 1" 1 "" ctr_run --rm "$IMAGE_REF" rc-false false
    expect_run "exit 7 is passed through" 7 "" ctr_run --rm "$IMAGE_REF" rc-seven sh -c 'exit 7'
    run ctr_run --rm "$IMAGE_REF" rc-output sh -c 'echo to-stdout; echo to-stderr >&2'
    expect_eq "stdout" to-stdout "$RUN_OUT"
    expect_contains "stderr" to-stderr "$RUN_ERR"
    run ctr_run --rm "$IMAGE_REF" rc-missing /no/such/binary
    expect_eq "missing executable fails the run" 1 "$((RUN_RC != 0))"
    expect_contains "error names the missing file" "/no/such/binary" "$RUN_ERR"
    expect_eq "--rm removed every container" "" "$(ctr container list --quiet)"
}

test_run_process_spec() {
    expect_run "env" 0 "bar" ctr_run --rm --env FOO=bar "$IMAGE_REF" spec-env sh -c 'echo $FOO'
    expect_run "cwd" 0 "/tmp" ctr_run --rm --cwd /tmp "$IMAGE_REF" spec-cwd pwd
    expect_run "command is pid 1" 0 "1" ctr_run --rm "$IMAGE_REF" spec-pid sh -c 'echo $$'
    run ctr_run --rm "$IMAGE_REF" spec-cgroup cat /proc/self/cgroup
    expect_contains "cgroup is /<namespace>/<id>" ":memory:/$TEST_ID/spec-cgroup" "$RUN_OUT"
    start_detached spec-mem --memory-limit 33554432 sleep 600
    expect_eq "memory limit reaches the cgroup" 33554432 \
        "$(cat "/sys/fs/cgroup/memory/$TEST_ID/spec-mem/memory.limit_in_bytes")"
    remove_container spec-mem
    run ctr_run --rm --read-only "$IMAGE_REF" spec-ro touch /nope
    expect_eq "read-only rootfs rejects writes" 1 "$RUN_RC"
    mkdir -p "$TEST_DIR/bind"
    echo from-host >"$TEST_DIR/bind/in"
    expect_run "bind mount" 0 "from-host" ctr_run --rm \
        --mount "type=bind,src=$TEST_DIR/bind,dst=/data,options=rbind:ro" "$IMAGE_REF" spec-bind \
        cat /data/in
    expect_run "default seccomp profile is applied" 0 "Seccomp:	2" \
        ctr_run --rm --seccomp "$IMAGE_REF" spec-seccomp grep '^Seccomp:' /proc/self/status
    expect_run "no seccomp without --seccomp" 0 "Seccomp:	0" \
        ctr_run --rm "$IMAGE_REF" spec-noseccomp grep '^Seccomp:' /proc/self/status
    expect_run "--cap-drop" 0 "no-chown" ctr_run --rm --cap-drop CAP_CHOWN "$IMAGE_REF" spec-cap \
        sh -c 'chown 65534 /tmp 2>/dev/null && echo chown || echo no-chown'
    local pid_file=$TEST_DIR/spec-pidfile.pid
    expect_run "--pid-file" 0 "" ctr_run --rm --pid-file "$pid_file" "$IMAGE_REF" spec-pidfile true
    expect_match "pid file holds a pid" '^[0-9]+$' "$(cat "$pid_file")"
}

test_exec() {
    start_detached exec-target sleep 600
    expect_run "exec output" 0 "hello" ctr_exec --exec-id e1 exec-target echo hello
    expect_run "exec exit code" 3 "" ctr_exec --exec-id e2 exec-target sh -c 'exit 3'
    expect_run "exec --cwd" 0 "/tmp" ctr_exec --exec-id e3 --cwd /tmp exec-target pwd
    # uid:gid, not a bare uid: for a bare uid ctr mounts the container's snapshot a second time to
    # look up the gid in /etc/passwd, and that second overlay mount resets the shared workdir,
    # after which copy-up in the running container fails with ENOENT.
    expect_run "exec --user" 0 "65534:65534" ctr_exec --exec-id e4 --user 65534:65534 exec-target \
        sh -c 'echo $(id -u):$(id -g)'
    expect_run "exec shares the pid namespace" 0 "sleep" \
        ctr_exec --exec-id e5 exec-target sh -c 'cat /proc/1/comm'
    expect_ok "exec --detach" ctr_exec --detach --exec-id e6 exec-target \
        sh -c 'echo bg >/tmp/bg; sleep 600'
    wait_for 10 "detached exec wrote its file" ctr_exec --exec-id e7 exec-target grep -q bg /tmp/bg

    # `task ps` is the runtime's `ps --format json`; the shim labels exec processes with their id.
    run ctr task ps exec-target
    expect_contains "task ps lists the init process" "$(task_pid exec-target)" "$RUN_OUT"
    expect_contains "task ps lists the detached exec" "ExecID:e6" "$RUN_OUT"

    run with_tty ctr "${CTR_ARGS[@]}" task exec --fifo-dir "$TEST_DIR/fifo" --tty \
        --exec-id e8 exec-target tty
    # Only the first line: ctr may add "resize pty ... cannot resize a stopped container" when the
    # process is faster than its console resize.
    expect_match "exec --tty gets a pty" '^/dev/pts/[0-9]+$' "${RUN_OUT%%$'\n'*}"
    run ctr_exec --exec-id e9 exec-target /no/such/binary
    expect_eq "exec of a missing binary fails" 1 "$((RUN_RC != 0))"

    expect_ok "kill --all" ctr task kill --all --signal SIGKILL exec-target
    wait_for 10 "task stopped" status_is exec-target STOPPED
    expect_eq "kill --all killed the exec'd process too" "" \
        "$(cat "/sys/fs/cgroup/pids/$TEST_ID/exec-target/cgroup.procs" 2>/dev/null)"
    expect_ok "task delete" ctr task delete exec-target
    expect_ok "container delete" ctr container delete exec-target
}

counter_of() { cat "/proc/$1/root/tmp/counter"; }
counter_above() { [[ $(counter_of "$1") -gt $2 ]]; }

test_pause_resume() {
    start_detached pausable sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/counter; sleep 0.05; done'
    local pid
    pid=$(task_pid pausable)
    wait_for 10 "counter written" test -s "/proc/$pid/root/tmp/counter"

    expect_ok "pause" ctr task pause pausable
    expect_eq "task list status after pause" PAUSED "$(task_status pausable)"
    expect_eq "freezer state" FROZEN "$(cat "/sys/fs/cgroup/freezer/$TEST_ID/pausable/freezer.state")"
    local before after
    before=$(counter_of "$pid")
    sleep 1
    after=$(counter_of "$pid")
    expect_eq "counter does not advance while paused" "$before" "$after"

    expect_ok "resume" ctr task resume pausable
    expect_eq "task list status after resume" RUNNING "$(task_status pausable)"
    wait_for 5 "counter advances after resume" counter_above "$pid" "$after"
    remove_container pausable
}

test_kill_and_delete() {
    start_detached killable sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done'
    expect_ok "kill (SIGTERM)" ctr task kill killable
    wait_for 10 "task stopped after SIGTERM" status_is killable STOPPED
    run ctr task delete killable
    expect_contains "exit code reported on delete" "exit code 3" "$RUN_ERR"
    expect_eq "task gone" "" "$(task_status killable)"
    expect_ok "container delete" ctr container delete killable
    expect_eq "container cgroup removed" "" "$(compgen -G "/sys/fs/cgroup/*/$TEST_ID/killable" || true)"

    start_detached stubborn sleep 600
    run ctr task delete stubborn
    expect_eq "delete of a running task is refused" 1 "$((RUN_RC != 0))"
    expect_ok "delete --force of a running task" ctr task delete --force stubborn
    expect_eq "forced task gone" "" "$(task_status stubborn)"
    expect_ok "container delete" ctr container delete stubborn
    expect_eq "runtime state of deleted containers is gone" "" \
        "$(compgen -G "$TEST_DIR/runtime-root/$TEST_ID/killable" \
            "$TEST_DIR/runtime-root/$TEST_ID/stubborn" || true)"
}

test_tty() {
    run with_tty ctr "${CTR_ARGS[@]}" run "${RUN_ARGS[@]}" --tty --rm "$IMAGE_REF" tty-run tty
    expect_eq "run --tty: stdio is /dev/pts/0" /dev/pts/0 "$RUN_OUT"
    expect_eq "run --tty exit code" 0 "$RUN_RC"
    run with_tty ctr "${CTR_ARGS[@]}" run "${RUN_ARGS[@]}" --tty --rm "$IMAGE_REF" tty-rc \
        sh -c 'exit 4'
    expect_eq "run --tty passes the exit code" 4 "$RUN_RC"
}

# Task-level options replace the container's runtime options in ctr 1.6: `ctr run --no-pivot`
# (WithNoPivotRoot) silently drops --runc-binary/--runc-root and runs the system runc with its
# default root. That root appearing means some container did not run on the runtime under test.
test_runtime_under_test_was_used() {
    expect_eq "nothing ran with the shim's default runc root" "" \
        "$(compgen -G "/run/containerd/runc/$TEST_ID" || true)"
}

setup_containerd
run_test run_exit_codes
run_test run_process_spec
run_test exec
run_test pause_resume
run_test kill_and_delete
run_test tty
run_test runtime_under_test_was_used
compat_finish
