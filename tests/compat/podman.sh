#!/usr/bin/env bash
# Compat: podman (through conmon) driving the runtime under test; all podman state in a scratch dir.
#
# Usage: tests/compat/podman.sh RUNTIME [IMAGE_DIR]
#
# shellcheck disable=SC2016 # $vars in single quotes are for the shell inside the container
# shellcheck disable=SC2317 # test_* functions are called through run_test
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

compat_require podman conmon umoci skopeo
compat_init podman "$@"

setup_podman() {
    mkdir -p "$TEST_DIR"/{podman-root,podman-runroot,podman-tmp,cni,volumes,bind}
    # CONTAINERS_CONF replaces every system and user containers.conf, so host settings do not leak in.
    # cgroupfs: no systemd here. file events: no journald. Explicit ulimits: podman's default
    # RLIMIT_NOFILE of 1048576 exceeds the hard limit and CAP_SYS_RESOURCE is not available.
    # File locks live in tmp_dir; the default shm locks would leave /dev/shm/libpod_lock behind.
    cat >"$TEST_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$TEST_DIR/podman-events.log"
lock_type = "file"
num_locks = 128
tmp_dir = "$TEST_DIR/podman-tmp"
volume_path = "$TEST_DIR/volumes"
# podman passes --log-format=json only to runtimes it knows by name.
runtime_supports_json = ["crun", "runc", "kiln-runtime", "$(basename "$RUNTIME")"]

[network]
network_backend = "cni"
network_config_dir = "$TEST_DIR/cni"
EOF
    cat >"$TEST_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$TEST_DIR/podman-root"
runroot = "$TEST_DIR/podman-runroot"
EOF
    echo 'unqualified-search-registries = []' >"$TEST_DIR/registries.conf"
    export CONTAINERS_CONF=$TEST_DIR/containers.conf
    export CONTAINERS_STORAGE_CONF=$TEST_DIR/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$TEST_DIR/registries.conf
    on_cleanup podman_remove_all
    without_host_image_cache podman "${PODMAN_ARGS[@]}" load --quiet \
        --input "$IMAGE_DIR/busybox.oci.tar" >/dev/null
}

PODMAN_ARGS=(--root "$TEST_DIR/podman-root" --runroot "$TEST_DIR/podman-runroot"
             --tmpdir "$TEST_DIR/podman-tmp" --storage-driver overlay --runtime "$RUNTIME")
podman() { command podman "${PODMAN_ARGS[@]}" "$@"; }

# Containers go under a cgroup named after the test, never podman's default /libpod_parent.
prun() { podman run --cgroup-parent "/$TEST_ID" --network none "$@"; }

podman_remove_all() {
    podman rm --all --force --time 0 >/dev/null 2>&1 || log "podman rm --all failed"
    # Not `podman system reset`: it creates ~/.config/containers.
    podman image rm --all --force >/dev/null 2>&1 || true
}

container_pid() { podman inspect --format '{{.State.Pid}}' "$1"; }
container_status() { podman inspect --format '{{.State.Status}}' "$1"; }
container_cgroup_dir() { # container_cgroup_dir NAME CONTROLLER
    echo "/sys/fs/cgroup/$2/$TEST_ID/libpod-$(podman inspect --format '{{.Id}}' "$1")"
}

status_is() { [[ $(container_status "$1") == "$2" ]]; }
with_stdin() { local input=$1; shift; "$@" <<<"$input"; }

# ---------------------------------------------------------------------------------------------

test_run_exit_codes() {
    expect_run "true exits 0" 0 "" prun --rm "$IMAGE_REF" true
    expect_run "false exits 1" 1 "" prun --rm "$IMAGE_REF" false
    expect_run "exit 7 is passed through" 7 "" prun --rm "$IMAGE_REF" sh -c 'exit 7'
    # podman maps the runtime's error text to 127/126: the runtime must say "not found" /
    # "permission denied" the way runc does.
    run prun --rm "$IMAGE_REF" /no/such/binary
    expect_eq "missing executable exits 127 (stderr: $RUN_ERR)" 127 "$RUN_RC"
    run prun --rm "$IMAGE_REF" /etc/passwd
    expect_eq "non-executable file exits 126 (stderr: $RUN_ERR)" 126 "$RUN_RC"
}

test_run_output() {
    run prun --rm "$IMAGE_REF" sh -c 'echo to-stdout; echo to-stderr >&2'
    expect_eq "exit code" 0 "$RUN_RC"
    expect_eq "stdout" to-stdout "$RUN_OUT"
    expect_contains "stderr" to-stderr "$RUN_ERR"
    expect_not_contains "stdout has no stderr" to-stderr "$RUN_OUT"
    expect_run "stdin is passed with -i" 0 "from-stdin" \
        with_stdin from-stdin prun --rm -i "$IMAGE_REF" cat
    expect_run "image Cmd (sh) is used when none is given" 0 "sh-ran" \
        with_stdin "echo sh-ran" prun --rm -i "$IMAGE_REF"
}

test_run_process_spec() {
    expect_run "env" 0 "bar" prun --rm -e FOO=bar "$IMAGE_REF" sh -c 'echo $FOO'
    expect_run "PATH from image config" 0 \
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        prun --rm "$IMAGE_REF" sh -c 'echo $PATH'
    expect_run "workdir" 0 "/tmp" prun --rm -w /tmp "$IMAGE_REF" pwd
    expect_run "user" 0 "65534:65534" prun --rm --user 65534:65534 "$IMAGE_REF" \
        sh -c 'echo $(id -u):$(id -g)'
    expect_run "hostname" 0 "kiln-compat" prun --rm --hostname kiln-compat "$IMAGE_REF" hostname
    expect_run "command is pid 1" 0 "1" prun --rm "$IMAGE_REF" sh -c 'echo $$'
    expect_run "RLIMIT_NOFILE from default_ulimits" 0 "20000 20000" prun --rm "$IMAGE_REF" \
        sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)'
    # --ulimit replaces default_ulimits, so nproc has to be repeated or podman asks for 1048576.
    expect_run "ulimit flags" 0 "1024 500" \
        prun --rm --ulimit nofile=1024:1024 --ulimit nproc=500:500 "$IMAGE_REF" \
        sh -c 'echo $(ulimit -n) $(ulimit -u)'
    run prun --rm "$IMAGE_REF" cat /proc/self/cgroup
    expect_match "cgroup under the test's parent" ":memory:/$TEST_ID/libpod-[0-9a-f]{64}" "$RUN_OUT"
    expect_run "no capabilities with --cap-drop all" 0 "CapEff:	0000000000000000" \
        prun --rm --cap-drop all "$IMAGE_REF" grep CapEff /proc/self/status

    echo from-host >"$TEST_DIR/bind/in"
    expect_run "bind mount reads host file" 0 "from-host" \
        prun --rm -v "$TEST_DIR/bind:/data" "$IMAGE_REF" cat /data/in
    expect_ok "bind mount writes reach the host" \
        prun --rm -v "$TEST_DIR/bind:/data" "$IMAGE_REF" sh -c 'echo from-container >/data/out'
    expect_eq "host sees the container's write" from-container "$(cat "$TEST_DIR/bind/out")"
    run prun --rm -v "$TEST_DIR/bind:/data:ro" "$IMAGE_REF" touch /data/nope
    expect_eq "read-only bind mount rejects writes" 1 "$RUN_RC"
    run prun --rm --read-only "$IMAGE_REF" touch /nope
    expect_eq "read-only rootfs rejects writes" 1 "$RUN_RC"
    expect_run "/tmp stays writable with --read-only" 0 "" \
        prun --rm --read-only "$IMAGE_REF" touch /tmp/yes
    expect_run "memory limit reaches the cgroup" 0 "67108864" \
        prun --rm --memory 64m "$IMAGE_REF" \
        sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
}

test_exec() {
    prun -d --name exec-target --hostname exec-host "$IMAGE_REF" sleep 600 >/dev/null
    wait_for 10 "exec-target running" status_is exec-target running
    expect_run "exec output" 0 "hello" podman exec exec-target echo hello
    expect_run "exec exit code" 5 "" podman exec exec-target sh -c 'exit 5'
    expect_run "exec sees the container's hostname" 0 "exec-host" podman exec exec-target hostname
    expect_run "exec shares the pid namespace" 0 "sleep600" \
        podman exec exec-target sh -c 'tr "\0" " " </proc/1/cmdline | tr -d " "'
    expect_run "exec --user" 0 "65534" podman exec --user 65534 exec-target id -u
    expect_run "exec --env" 0 "xyz" podman exec --env X=xyz exec-target sh -c 'echo $X'
    expect_run "exec --workdir" 0 "/tmp" podman exec --workdir /tmp exec-target pwd
    expect_run "exec -i" 0 "piped" with_stdin piped podman exec -i exec-target cat
    run podman exec -t exec-target tty
    expect_match "exec -t gets a pty" '^/dev/pts/[0-9]+$' "$RUN_OUT"
    expect_ok "exec --detach" podman exec --detach exec-target sh -c 'sleep 0.2; echo bg >/tmp/bg'
    wait_for 10 "detached exec wrote its file" podman exec exec-target grep -q bg /tmp/bg
    run podman exec exec-target /no/such/binary
    expect_eq "exec of a missing binary exits 127 (stderr: $RUN_ERR)" 127 "$RUN_RC"
    expect_ok "rm -f" podman rm --force --time 0 exec-target
}

counter_of() { cat "/proc/$1/root/tmp/counter"; }
counter_above() { [[ $(counter_of "$1") -gt $2 ]]; }

test_pause_unpause() {
    prun -d --name pausable "$IMAGE_REF" \
        sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/counter; sleep 0.05; done' >/dev/null
    wait_for 10 "pausable running" status_is pausable running
    local pid
    pid=$(container_pid pausable)
    wait_for 10 "counter written" test -s "/proc/$pid/root/tmp/counter"

    expect_ok "pause" podman pause pausable
    expect_eq "status after pause" paused "$(container_status pausable)"
    expect_eq "freezer state" FROZEN "$(cat "$(container_cgroup_dir pausable freezer)/freezer.state")"
    local before after
    before=$(counter_of "$pid")
    sleep 1
    after=$(counter_of "$pid")
    expect_eq "counter does not advance while paused" "$before" "$after"
    run podman ps --all --filter name=pausable --format '{{.Status}}'
    expect_contains "ps shows paused" "Paused" "$RUN_OUT"

    expect_ok "unpause" podman unpause pausable
    expect_eq "status after unpause" running "$(container_status pausable)"
    wait_for 5 "counter advances after unpause" counter_above "$pid" "$after"
    expect_ok "rm -f" podman rm --force --time 0 pausable
}

test_stop() {
    # sh as pid 1 with no handler ignores SIGTERM: podman must escalate to SIGKILL.
    prun -d --name stubborn "$IMAGE_REF" sleep 600 >/dev/null
    wait_for 10 "stubborn running" status_is stubborn running
    local start=$SECONDS
    expect_ok "stop --time 2" podman stop --time 2 stubborn
    local took=$((SECONDS - start))
    ((took >= 1 && took < 15)) || _fail "stop waits ~2s then kills" "took ${took}s"
    expect_eq "status after stop" exited "$(container_status stubborn)"
    expect_eq "exit code after SIGKILL" 137 "$(podman inspect --format '{{.State.ExitCode}}' stubborn)"

    prun -d --name polite "$IMAGE_REF" \
        sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 "polite running" status_is polite running
    start=$SECONDS
    expect_ok "stop --time 30" podman stop --time 30 polite
    took=$((SECONDS - start))
    ((took < 10)) || _fail "SIGTERM reaches the container" "stop took ${took}s"
    expect_eq "exit code from the TERM trap" 3 "$(podman inspect --format '{{.State.ExitCode}}' polite)"

    expect_ok "restart a stopped container" podman start polite
    wait_for 10 "polite running again" status_is polite running
    expect_ok "rm -f" podman rm --force --time 0 stubborn polite
}

test_kill_signal() {
    prun -d --name signalled "$IMAGE_REF" \
        sh -c 'trap "echo got-usr1; exit 4" USR1; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 "signalled running" status_is signalled running
    expect_ok "kill -s USR1" podman kill --signal USR1 signalled
    expect_run "wait returns the exit code" 0 "4" podman wait signalled
    run podman logs signalled
    expect_eq "handler ran" got-usr1 "$RUN_OUT"
    expect_ok "rm" podman rm signalled
}

test_logs() {
    prun -d --name logger "$IMAGE_REF" sh -c 'echo line-out; echo line-err >&2' >/dev/null
    expect_run "wait" 0 "0" podman wait logger
    run podman logs logger
    expect_eq "logs stdout" line-out "$RUN_OUT"
    expect_eq "logs stderr" line-err "$RUN_ERR"
    expect_ok "rm" podman rm logger
}

test_tty() {
    expect_run "run -t: stdio is a terminal" 0 "tty" \
        prun --rm -t "$IMAGE_REF" sh -c 'test -t 0 && test -t 1 && echo tty'
    run prun --rm -t "$IMAGE_REF" tty
    expect_eq "run -t: tty is /dev/pts/0" /dev/pts/0 "$RUN_OUT"
    expect_run "no -t: not a terminal" 0 "notty" \
        prun --rm "$IMAGE_REF" sh -c 'test -t 1 && echo tty || echo notty'
}

test_ps_and_rm() {
    podman create --cgroup-parent "/$TEST_ID" --network none --name ps-created "$IMAGE_REF" true \
        >/dev/null
    prun -d --name ps-running "$IMAGE_REF" sleep 600 >/dev/null
    prun --name ps-exited "$IMAGE_REF" sh -c 'exit 3' || true
    wait_for 10 "ps-running running" status_is ps-running running

    run podman ps --format '{{.Names}}'
    expect_eq "ps lists only running containers" ps-running "$RUN_OUT"
    run podman ps -a --format '{{.Names}}|{{.Status}}'
    expect_match "created container" 'ps-created\|Created' "$RUN_OUT"
    expect_match "running container" 'ps-running\|Up ' "$RUN_OUT"
    expect_match "exited container with its code" 'ps-exited\|Exited \(3\)' "$RUN_OUT"

    local cgroup
    cgroup=$(container_cgroup_dir ps-running memory)
    expect_ok "container cgroup exists while running" test -d "$cgroup"
    expect_ok "start a created container" podman start --attach ps-created
    expect_eq "created container ran" exited "$(container_status ps-created)"
    expect_ok "rm -f running" podman rm --force --time 0 ps-running
    wait_for 10 "container cgroup removed" test ! -d "$cgroup"
    expect_ok "rm exited" podman rm ps-exited ps-created
    run podman ps --all --filter name=ps- --format '{{.Names}}'
    expect_eq "removed containers are gone from ps -a" "" "$RUN_OUT"
}

test_info_reports_runtime() {
    # podman info runs `RUNTIME --version` and shows its output.
    run podman info --format '{{.Host.OCIRuntime.Path}}|{{.Host.OCIRuntime.Version}}'
    expect_eq "podman info exit code (stderr: $RUN_ERR)" 0 "$RUN_RC"
    expect_match "runtime path and version" "^$RUNTIME\|.*version" "$RUN_OUT"
}

setup_podman
run_test run_exit_codes
run_test run_output
run_test run_process_spec
run_test exec
run_test pause_unpause
run_test stop
run_test kill_signal
run_test logs
run_test tty
run_test ps_and_rm
run_test info_reports_runtime
compat_finish
