#!/usr/bin/env bash
# Compat: dockerd (on a private containerd, via the runc v2 shim) driving the runtime under test.
#
# Usage: tests/compat/docker.sh RUNTIME [IMAGE_DIR]
#
# shellcheck disable=SC2016 # $vars in single quotes are for the shell inside the container
# shellcheck disable=SC2317 # test_* functions are called through run_test
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=containerd-daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/containerd-daemon.sh"

compat_require dockerd docker containerd ctr containerd-shim-runc-v2 umoci skopeo
compat_init docker "$@"

# The Debian client matches the daemon's API; a newer client elsewhere in PATH would also work.
DOCKER_CLI=$(command -v /usr/bin/docker || command -v docker)

setup_docker() {
    containerd_start
    local dir=$TEST_DIR/docker
    mkdir -p "$dir"/{data,exec,cli}
    # No bridge, no iptables, no forwarding/masquerading: dockerd must not touch host networking.
    # cgroup-parent: container cgroups go under /<test id> instead of /docker.
    # deprecated-key-path: otherwise dockerd writes its identity key to /etc/docker/key.json.
    cat >"$dir/daemon.json" <<EOF
{
  "runtimes": { "kiln": { "path": "$RUNTIME" } },
  "default-runtime": "kiln",
  "cgroup-parent": "/$TEST_ID",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "storage-driver": "overlay2",
  "bridge": "none",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "live-restore": false,
  "deprecated-key-path": "$dir/key.json",
  "log-level": "info"
}
EOF
    # dockerd creates /run/docker/plugins for plugin discovery whatever its exec root is.
    on_cleanup _docker_remove_host_dirs "$([[ -e /run/docker ]] && echo keep || echo remove)"
    start_daemon dockerd dockerd --config-file "$dir/daemon.json" \
        --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
        -H "unix://$dir/docker.sock" \
        --containerd "$CONTAINERD_SOCK" \
        --containerd-namespace "$TEST_ID" --containerd-plugins-namespace "$TEST_ID-plugins"
    export DOCKER_HOST=unix://$dir/docker.sock DOCKER_CONFIG=$dir/cli
    if ! wait_for 30 "dockerd answering on $DOCKER_HOST" docker version; then
        daemon_log_tail dockerd
        die "dockerd did not start"
    fi
    on_cleanup docker_remove_all
    docker load --quiet --input "$IMAGE_DIR/busybox.docker.tar" >/dev/null
}

_docker_remove_host_dirs() {
    [[ $1 == remove ]] && remove_empty_dirs /run/docker/plugins /run/docker
    return 0
}

docker() { "$DOCKER_CLI" "$@"; }

docker_remove_all() {
    local ids
    mapfile -t ids < <(docker ps --all --quiet 2>/dev/null)
    if ((${#ids[@]})); then
        docker rm --force "${ids[@]}" >/dev/null 2>&1 || log "docker rm --force failed"
    fi
    docker image rm --force "$IMAGE_REF" >/dev/null 2>&1 || true
}

drun() { docker run --runtime kiln --network none "$@"; }

container_status() { docker inspect --format '{{.State.Status}}' "$1"; }
container_pid() { docker inspect --format '{{.State.Pid}}' "$1"; }
container_exit_code() { docker inspect --format '{{.State.ExitCode}}' "$1"; }
container_cgroup_dir() { # container_cgroup_dir NAME CONTROLLER
    echo "/sys/fs/cgroup/$2/$TEST_ID/$(docker inspect --format '{{.Id}}' "$1")"
}
status_is() { [[ $(container_status "$1") == "$2" ]]; }
with_stdin() { local input=$1; shift; "$@" <<<"$input"; }

start_detached() { # start_detached NAME [RUN_FLAGS...] -- CMD...
    local name=$1 flags=()
    shift
    while [[ $1 != -- ]]; do
        flags+=("$1")
        shift
    done
    shift
    drun --detach --name "$name" "${flags[@]}" "$IMAGE_REF" "$@" >/dev/null
    wait_for 10 "$name running" status_is "$name" running
}

# ---------------------------------------------------------------------------------------------

test_run_exit_codes() {
    expect_run "true exits 0" 0 "" drun --rm "$IMAGE_REF" true
    expect_run "false exits 1" 1 "" drun --rm "$IMAGE_REF" false
    expect_run "exit 7 is passed through" 7 "" drun --rm "$IMAGE_REF" sh -c 'exit 7'
    # dockerd maps the runtime's error text to 127/126, like podman.
    run drun --rm "$IMAGE_REF" /no/such/binary
    expect_eq "missing executable exits 127 (stderr: $RUN_ERR)" 127 "$RUN_RC"
    run drun --rm "$IMAGE_REF" /etc/passwd
    expect_eq "non-executable file exits 126 (stderr: $RUN_ERR)" 126 "$RUN_RC"
    run drun --name rt-check "$IMAGE_REF" true
    expect_eq "container used the kiln runtime" kiln \
        "$(docker inspect --format '{{.HostConfig.Runtime}}' rt-check)"
    docker rm rt-check >/dev/null
}

test_run_output() {
    run drun --rm "$IMAGE_REF" sh -c 'echo to-stdout; echo to-stderr >&2'
    expect_eq "exit code" 0 "$RUN_RC"
    expect_eq "stdout" to-stdout "$RUN_OUT"
    expect_eq "stderr" to-stderr "$RUN_ERR"
    expect_run "stdin is passed with -i" 0 "from-stdin" \
        with_stdin from-stdin drun --rm -i "$IMAGE_REF" cat
    expect_run "image Cmd (sh) is used when none is given" 0 "sh-ran" \
        with_stdin "echo sh-ran" drun --rm -i "$IMAGE_REF"
}

test_run_process_spec() {
    expect_run "env" 0 "bar" drun --rm -e FOO=bar "$IMAGE_REF" sh -c 'echo $FOO'
    expect_run "workdir" 0 "/tmp" drun --rm -w /tmp "$IMAGE_REF" pwd
    expect_run "user" 0 "65534:65534" drun --rm --user 65534:65534 "$IMAGE_REF" \
        sh -c 'echo $(id -u):$(id -g)'
    expect_run "hostname" 0 "kiln-compat" drun --rm --hostname kiln-compat "$IMAGE_REF" hostname
    expect_run "command is pid 1" 0 "1" drun --rm "$IMAGE_REF" sh -c 'echo $$'
    expect_run "ulimit" 0 "1024" drun --rm --ulimit nofile=1024:1024 "$IMAGE_REF" sh -c 'ulimit -n'
    run drun --rm "$IMAGE_REF" cat /proc/self/cgroup
    expect_match "cgroup under the test's cgroup-parent" ":memory:/$TEST_ID/[0-9a-f]{64}" "$RUN_OUT"
    expect_run "memory limit" 0 "67108864" drun --rm --memory 64m "$IMAGE_REF" \
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    expect_run "no capabilities with --cap-drop ALL" 0 "CapEff:	0000000000000000" \
        drun --rm --cap-drop ALL "$IMAGE_REF" grep CapEff /proc/self/status
    expect_run "docker's default seccomp profile" 0 "Seccomp:	2" \
        drun --rm "$IMAGE_REF" grep '^Seccomp:' /proc/self/status
    run drun --rm --read-only "$IMAGE_REF" touch /nope
    expect_eq "read-only rootfs rejects writes" 1 "$RUN_RC"
    mkdir -p "$TEST_DIR/bind"
    echo from-host >"$TEST_DIR/bind/in"
    expect_run "bind mount" 0 "from-host" drun --rm -v "$TEST_DIR/bind:/data:ro" "$IMAGE_REF" \
        cat /data/in
    # --init bind-mounts docker-init at /sbin/docker-init, a path the image does not have.
    expect_run "--init runs docker-init as pid 1" 0 "docker-init" drun --rm --init "$IMAGE_REF" \
        cat /proc/1/comm
}

test_exec() {
    start_detached exec-target --hostname exec-host -- sleep 600
    expect_run "exec output" 0 "hello" docker exec exec-target echo hello
    expect_run "exec exit code" 5 "" docker exec exec-target sh -c 'exit 5'
    expect_run "exec sees the container's hostname" 0 "exec-host" docker exec exec-target hostname
    expect_run "exec shares the pid namespace" 0 "sleep" docker exec exec-target cat /proc/1/comm
    expect_run "exec --user" 0 "65534" docker exec --user 65534 exec-target id -u
    expect_run "exec --env" 0 "xyz" docker exec --env X=xyz exec-target sh -c 'echo $X'
    expect_run "exec --workdir" 0 "/tmp" docker exec --workdir /tmp exec-target pwd
    expect_run "exec -i" 0 "piped" with_stdin piped docker exec -i exec-target cat
    run docker exec -t exec-target tty
    expect_match "exec -t gets a pty" '^/dev/pts/[0-9]+$' "$RUN_OUT"
    expect_ok "exec --detach" docker exec --detach exec-target sh -c 'echo bg >/tmp/bg; sleep 600'
    wait_for 10 "detached exec wrote its file" docker exec exec-target grep -q bg /tmp/bg
    # docker top is the runtime's `ps --format json` (through the shim).
    run docker top exec-target -o pid,args
    expect_contains "top lists the init process" "$(container_pid exec-target)" "$RUN_OUT"
    expect_contains "top lists the detached exec" "sleep 600" "$(echo "$RUN_OUT" | grep -v "^$(container_pid exec-target) ")"
    # dockerd 20.10 reports any failed exec start as 126 (podman and newer docker say 127).
    run docker exec exec-target /no/such/binary
    expect_eq "exec of a missing binary exits 126" 126 "$RUN_RC"
    expect_contains "exec error names the binary" "/no/such/binary" "$RUN_OUT$RUN_ERR"
    expect_ok "rm -f" docker rm --force exec-target
}

counter_of() { cat "/proc/$1/root/tmp/counter"; }
counter_above() { [[ $(counter_of "$1") -gt $2 ]]; }

test_pause_unpause() {
    start_detached pausable -- \
        sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/counter; sleep 0.05; done'
    local pid
    pid=$(container_pid pausable)
    wait_for 10 "counter written" test -s "/proc/$pid/root/tmp/counter"

    expect_ok "pause" docker pause pausable
    expect_eq "status after pause" paused "$(container_status pausable)"
    expect_eq "freezer state" FROZEN "$(cat "$(container_cgroup_dir pausable freezer)/freezer.state")"
    local before after
    before=$(counter_of "$pid")
    sleep 1
    after=$(counter_of "$pid")
    expect_eq "counter does not advance while paused" "$before" "$after"
    run docker ps --filter name=pausable --format '{{.Status}}'
    expect_contains "ps shows paused" "(Paused)" "$RUN_OUT"

    expect_ok "unpause" docker unpause pausable
    expect_eq "status after unpause" running "$(container_status pausable)"
    wait_for 5 "counter advances after unpause" counter_above "$pid" "$after"
    expect_ok "rm -f" docker rm --force pausable
}

test_stop_and_restart() {
    # sleep as pid 1 has no SIGTERM handler, so the signal is ignored and docker must SIGKILL.
    start_detached stubborn -- sleep 600
    local start=$SECONDS took
    expect_ok "stop -t 2" docker stop --time 2 stubborn
    took=$((SECONDS - start))
    ((took >= 1 && took < 15)) || _fail "stop waits ~2s then kills" "took ${took}s"
    expect_eq "status after stop" exited "$(container_status stubborn)"
    expect_eq "exit code after SIGKILL" 137 "$(container_exit_code stubborn)"

    start_detached polite -- sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done'
    start=$SECONDS
    expect_ok "stop -t 30" docker stop --time 30 polite
    took=$((SECONDS - start))
    ((took < 10)) || _fail "SIGTERM reaches the container" "stop took ${took}s"
    expect_eq "exit code from the TERM trap" 3 "$(container_exit_code polite)"

    expect_ok "start a stopped container" docker start polite
    wait_for 10 "polite running again" status_is polite running
    expect_ok "restart" docker restart --time 30 polite
    wait_for 10 "polite running after restart" status_is polite running
    expect_eq "restart count is not a crash count" 0 \
        "$(docker inspect --format '{{.RestartCount}}' polite)"
    expect_ok "rm -f" docker rm --force stubborn polite
}

test_kill_signal() {
    start_detached signalled -- sh -c 'trap "echo got-usr1; exit 4" USR1; while :; do sleep 0.1; done'
    expect_ok "kill -s USR1" docker kill --signal USR1 signalled
    expect_run "wait returns the exit code" 0 "4" docker wait signalled
    run docker logs signalled
    expect_eq "handler ran" got-usr1 "$RUN_OUT"
    expect_ok "rm" docker rm signalled
}

test_update_resources() {
    # docker update goes through containerd's task Update: `runtime update --resources -`.
    start_detached updatable --memory 64m -- sleep 600
    local cgroup
    cgroup=$(container_cgroup_dir updatable memory)
    expect_eq "initial memory limit" 67108864 "$(cat "$cgroup/memory.limit_in_bytes")"
    expect_ok "update --memory" docker update --memory 96m --memory-swap 192m updatable
    expect_eq "updated memory limit" 100663296 "$(cat "$cgroup/memory.limit_in_bytes")"
    expect_ok "update --cpu-shares" docker update --cpu-shares 512 updatable
    expect_eq "updated cpu shares" 512 \
        "$(cat "$(container_cgroup_dir updatable cpu)/cpu.shares")"
    expect_ok "update --pids-limit" docker update --pids-limit 50 updatable
    expect_eq "updated pids limit" 50 "$(cat "$(container_cgroup_dir updatable pids)/pids.max")"
    expect_ok "rm -f" docker rm --force updatable
    wait_for 10 "container cgroup removed" test ! -d "$cgroup"
}

test_logs() {
    drun --detach --name logger "$IMAGE_REF" sh -c 'echo line-out; echo line-err >&2' >/dev/null
    expect_run "wait" 0 "0" docker wait logger
    run docker logs logger
    expect_eq "logs stdout" line-out "$RUN_OUT"
    expect_eq "logs stderr" line-err "$RUN_ERR"
    expect_ok "rm" docker rm logger
}

test_tty() {
    expect_run "run -t: stdio is a terminal" 0 "tty" \
        drun --rm -t "$IMAGE_REF" sh -c 'test -t 0 && test -t 1 && echo tty'
    expect_run "run -t: tty is /dev/pts/0" 0 "/dev/pts/0" drun --rm -t "$IMAGE_REF" tty
    expect_run "no -t: not a terminal" 0 "notty" \
        drun --rm "$IMAGE_REF" sh -c 'test -t 1 && echo tty || echo notty'
}

test_ps_and_rm() {
    docker create --runtime kiln --network none --name ps-created "$IMAGE_REF" true >/dev/null
    start_detached ps-running -- sleep 600
    drun --name ps-exited "$IMAGE_REF" sh -c 'exit 3' || true

    run docker ps --filter name=ps- --format '{{.Names}}'
    expect_eq "ps lists only running containers" ps-running "$RUN_OUT"
    run docker ps --all --filter name=ps- --format '{{.Names}}|{{.Status}}'
    expect_match "created container" 'ps-created\|Created' "$RUN_OUT"
    expect_match "running container" 'ps-running\|Up ' "$RUN_OUT"
    expect_match "exited container with its code" 'ps-exited\|Exited \(3\)' "$RUN_OUT"

    local cgroup
    cgroup=$(container_cgroup_dir ps-running memory)
    expect_ok "container cgroup exists while running" test -d "$cgroup"
    expect_ok "start a created container" docker start --attach ps-created
    expect_eq "created container ran" exited "$(container_status ps-created)"
    expect_ok "rm -f running" docker rm --force ps-running
    wait_for 10 "container cgroup removed" test ! -d "$cgroup"
    expect_ok "rm exited" docker rm ps-exited ps-created
    run docker ps --all --filter name=ps- --format '{{.Names}}'
    expect_eq "removed containers are gone from ps -a" "" "$RUN_OUT"
}

test_info_reports_runtime() {
    # dockerd runs `<default runtime> --version` for `docker info` and parses runc's format:
    # "runc version X" / "commit: Y" / "spec: Z".
    run docker info --format '{{.DefaultRuntime}} {{.RuncCommit.ID}}'
    expect_match "docker info: default runtime and its commit" '^kiln [^ ]+$' "$RUN_OUT"
    expect_not_contains "runtime version was parsed" "N/A" "$RUN_OUT"
}

test_no_host_networking() {
    start_detached net-check -- sleep 600
    run docker exec net-check cat /proc/net/dev
    expect_not_contains "--network none: only lo" "eth0" "$RUN_OUT"
    expect_eq "no docker0 bridge on the host" "" "$(ip -o link show docker0 2>/dev/null || true)"
    expect_eq "no veth on the host" "" "$(ip -o link show type veth)"
    expect_ok "rm -f" docker rm --force net-check
}

setup_docker
run_test run_exit_codes
run_test run_output
run_test run_process_spec
run_test exec
run_test pause_unpause
run_test stop_and_restart
run_test kill_signal
run_test update_resources
run_test logs
run_test tty
run_test ps_and_rm
run_test info_reports_runtime
run_test no_host_networking
compat_finish
