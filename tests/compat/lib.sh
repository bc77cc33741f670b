# Shared helpers for the compat tests: a scratch dir that cleanup always removes, test runner, checks.
# Sourced by the per-caller scripts; see compat_init for the arguments they all take.
#
# A test is a function named test_<name>, run with `run_test <name>` in a subshell with `set -e`:
# the first failed check or command ends that test, the others still run. Cleanup runs from an
# EXIT trap whatever happened: registered actions in reverse order, then a sweep for anything left
# under the scratch dir (processes, mounts, cgroups named after it), then a comparison of host state
# (links, netns, iptables, top-level cgroups, well-known paths) with what it was at the start.

set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$COMPAT_DIR/../.." && pwd)
readonly COMPAT_DIR REPO_ROOT
# shellcheck disable=SC2034 # used by the scripts that source this file
readonly IMAGE_REF="localhost/kiln-busybox:latest"

TEST_DIR=""      # scratch dir, /tmp/kiln-compat-<name>-XXXXXX; everything a test creates lives here
TEST_ID=""       # basename of TEST_DIR; names cgroup parents and containerd namespaces
RUNTIME=""       # runtime binary under test (or its tracing wrapper, see KILN_COMPAT_TRACE)
IMAGE_DIR=""     # holds oci/, busybox.oci.tar, busybox.docker.tar
PASSED=()
FAILED=()
_CLEANUP_ACTIONS=()
_HOST_STATE_BEFORE=""

# Default state roots of runc-compatible runtimes (when the caller passes no --root).
readonly _RUNTIME_ROOTS=(/run/runc /run/crun /run/kiln /run/kiln-runtime)
# Top-level entries of these dirs are compared before/after: tools like to drop state there.
readonly _WATCHED_DIRS=(/run /run/containerd /run/containerd/runc /run/containerd/s /run/docker
                        /var/lib /opt /etc/docker /etc/cni/net.d /etc/containers /root/.docker
                        /root/.config /root/.local/share)

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Setup

readonly EXIT_SKIP=77   # ctest SKIP_RETURN_CODE

# compat_require CMD...: skips the whole script unless run as root with every CMD installed.
compat_require() {
    if [[ $EUID -ne 0 ]]; then
        log "SKIP: compat tests need root"
        exit "$EXIT_SKIP"
    fi
    local cmd
    for cmd in "$@"; do
        if ! command -v "$cmd" >/dev/null; then
            log "SKIP: $cmd is not installed"
            exit "$EXIT_SKIP"
        fi
    done
}

# compat_init NAME RUNTIME [IMAGE_DIR]
#   RUNTIME    runc-compatible binary the caller is pointed at (absolute path)
#   IMAGE_DIR  image cache, built by scripts/build-busybox-image.sh when missing;
#              default $KILN_COMPAT_IMAGE_DIR, else a dir inside the scratch dir
# Environment: KILN_COMPAT_TRACE=FILE appends every runtime command line the caller runs to FILE.
#              KILN_COMPAT_KEEP=1 keeps the scratch dir (daemons are still stopped).
compat_init() {
    local name=$1
    shift
    [[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 RUNTIME [IMAGE_DIR]"
    RUNTIME=$(realpath -e "$1") || die "runtime '$1' not found"
    [[ -x $RUNTIME ]] || die "runtime '$RUNTIME' is not executable"

    _sweep_stale_scratch_dirs
    _HOST_STATE_BEFORE=$(_host_state)
    TEST_DIR=$(mktemp -d "/tmp/kiln-compat-$name-XXXXXX")
    TEST_ID=$(basename "$TEST_DIR")
    echo $$ >"$TEST_DIR/owner.pid"
    trap _compat_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "scratch dir $TEST_DIR, runtime $RUNTIME"

    IMAGE_DIR=${2:-${KILN_COMPAT_IMAGE_DIR:-$TEST_DIR/images}}
    "$REPO_ROOT/scripts/build-busybox-image.sh" "$IMAGE_DIR" >/dev/null
    [[ -n ${KILN_COMPAT_TRACE:-} ]] && _install_trace_wrapper
    return 0
}

# Replaces RUNTIME with a wrapper that logs "[caller] runtime args..." to $KILN_COMPAT_TRACE.
# The wrapper keeps the runtime's basename: podman decides on --log-format=json by that name.
_install_trace_wrapper() {
    local real=$RUNTIME trace
    trace=$(realpath -m "$KILN_COMPAT_TRACE")
    mkdir -p "$TEST_DIR/trace"
    RUNTIME="$TEST_DIR/trace/$(basename "$real")"
    cat >"$RUNTIME" <<EOF
#!/bin/bash
printf '[%s] %s\n' "\$(cat /proc/\$PPID/comm 2>/dev/null)" "$(basename "$real") \$*" >>'$trace'
exec '$real' "\$@"
EOF
    chmod 0755 "$RUNTIME"
    log "tracing runtime calls to $trace"
}

# on_cleanup CMD [ARGS...]: run at exit, last registered first.
on_cleanup() {
    _CLEANUP_ACTIONS+=("$(printf '%q ' "$@")")
}

# ---------------------------------------------------------------------------------------------
# Running tests and checking results

# run_test NAME: runs test_NAME; a failure is recorded and the next test still runs.
run_test() {
    local name=$1 rc start=$EPOCHREALTIME
    log "RUN  $name"
    set +e
    (
        set -eEuo pipefail
        trap '_report_error $? "$BASH_COMMAND" $LINENO' ERR
        "test_$name"
    )
    rc=$?
    set -e
    local took
    took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')
    if ((rc == 0)); then
        PASSED+=("$name")
        log "PASS $name ($took)"
    else
        FAILED+=("$name")
        log "FAIL $name ($took)"
    fi
}

# The first unexpected failure in a test: what failed, where, and the calls that led there.
_ERROR_REPORTED=0
_report_error() {
    ((_ERROR_REPORTED)) && return 0
    _ERROR_REPORTED=1
    local where i
    where="$(basename "${BASH_SOURCE[1]}"):$3 ${FUNCNAME[1]}"
    for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
        [[ ${FUNCNAME[i]} == test_* ]] && break
        where+=" <- $(basename "${BASH_SOURCE[i + 1]}"):${BASH_LINENO[i]} ${FUNCNAME[i + 1]}"
    done
    printf '  command failed (exit %s): %s\n    at %s\n' "$1" "$2" "$where" >&2
}

# compat_finish: prints the summary; the exit status (and cleanup) follow from it.
compat_finish() {
    log "passed ${#PASSED[@]}: ${PASSED[*]:-}"
    if ((${#FAILED[@]})); then
        log "FAILED ${#FAILED[@]}: ${FAILED[*]}"
        exit 1
    fi
    exit 0
}

_fail() {
    printf '  FAIL: %s\n' "$1"
    shift
    printf '    %s\n' "$@"
    _ERROR_REPORTED=1
    return 1
}

# run CMD...: runs CMD without failing; sets RUN_RC, RUN_OUT (stdout), RUN_ERR (stderr), with
# trailing newlines, carriage returns and NULs (tty output) removed.
RUN_RC=0 RUN_OUT="" RUN_ERR=""
run() {
    local out=$TEST_DIR/.run.out err=$TEST_DIR/.run.err
    if "$@" >"$out" 2>"$err"; then RUN_RC=0; else RUN_RC=$?; fi
    RUN_OUT=$(tr -d '\r\0' <"$out")
    RUN_ERR=$(tr -d '\r\0' <"$err")
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    [[ $2 == "$3" ]] && return 0
    _fail "$1" "expected: '$2'" "got:      '$3'"
}

# expect_match WHAT EXTENDED_REGEX ACTUAL
expect_match() {
    [[ $3 =~ $2 ]] && return 0
    _fail "$1" "expected to match: /$2/" "got: '$3'"
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
    [[ $3 == *"$2"* ]] && return 0
    _fail "$1" "expected to contain: '$2'" "got: '$3'"
}

# expect_not_contains WHAT NEEDLE HAYSTACK
expect_not_contains() {
    [[ $3 != *"$2"* ]] && return 0
    _fail "$1" "expected not to contain: '$2'" "got: '$3'"
}

# expect_run WHAT EXPECTED_RC EXPECTED_STDOUT CMD...: runs CMD, checks exit code and stdout.
expect_run() {
    local what=$1 rc=$2 out=$3
    shift 3
    run "$@"
    if [[ $RUN_RC != "$rc" || $RUN_OUT != "$out" ]]; then
        _fail "$what" "command:  $*" "expected: exit $rc, stdout '$out'" \
            "got:      exit $RUN_RC, stdout '$RUN_OUT'" "stderr:   '$RUN_ERR'"
    fi
}

# expect_ok WHAT CMD...: CMD must succeed; its output is in RUN_OUT afterwards.
expect_ok() {
    local what=$1
    shift
    run "$@"
    ((RUN_RC == 0)) && return 0
    _fail "$what" "command: $*" "expected: exit 0" "got:      exit $RUN_RC" \
        "stdout:   '$RUN_OUT'" "stderr:   '$RUN_ERR'"
}

# wait_for TIMEOUT_SECONDS WHAT CMD...: polls CMD until it succeeds.
wait_for() {
    local timeout=$1 what=$2
    shift 2
    local deadline
    deadline=$(awk -v now="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { printf "%.3f", now + t }')
    until "$@" >/dev/null 2>&1; do
        if awk -v now="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(now > d) }'; then
            _fail "timed out after ${timeout}s waiting for: $what" "command: $*"
            return 1
        fi
        sleep 0.1
    done
}

# with_tty CMD...: runs the external command CMD with a new pseudo-terminal as its stdio and
# controlling terminal (for callers such as `ctr run -t` that insist on one), copies what it
# prints to stdout and exits with its status. Nothing is ever typed into the terminal, unlike
# script(1), which echoes a stray ^@ when its own stdin is not a terminal.
with_tty() {
    /usr/bin/python3 -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: every slave fd is closed
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
' "$@"
}

# without_host_image_cache CMD...: runs CMD in a private mount namespace with a tmpfs on /var/lib.
# containers/image tools running as root (podman load, skopeo) record blob digests in
# /var/lib/containers/cache whatever --root says; this keeps that file off the host.
without_host_image_cache() {
    unshare --mount --propagation private -- \
        sh -c 'mount -t tmpfs -o size=64m kiln-compat /var/lib && exec "$@"' sh "$@"
}

# ---------------------------------------------------------------------------------------------
# Daemons

declare -A DAEMON_PIDS=()

# start_daemon NAME CMD...: runs CMD in its own session, output in $TEST_DIR/NAME.log.
start_daemon() {
    local name=$1
    shift
    setsid "$@" >"$TEST_DIR/$name.log" 2>&1 </dev/null &
    DAEMON_PIDS[$name]=$!
    on_cleanup stop_daemon "$name"
    log "started $name (pid ${DAEMON_PIDS[$name]}), log $TEST_DIR/$name.log"
}

_process_gone() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [[ $state == Z ]]
}

# stop_daemon NAME [TIMEOUT]: SIGTERM, then SIGKILL after TIMEOUT seconds (default 30).
stop_daemon() {
    local name=$1 timeout=${2:-30} pid
    pid=${DAEMON_PIDS[$name]:-}
    [[ -n $pid ]] || return 0
    unset "DAEMON_PIDS[$name]"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < timeout * 10; i++)); do
        _process_gone "$pid" && break
        sleep 0.1
    done
    if ! _process_gone "$pid"; then
        log "$name (pid $pid) ignored SIGTERM for ${timeout}s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    log "stopped $name"
}

daemon_log_tail() {
    log "last lines of $TEST_DIR/$1.log:"
    tail -n "${2:-30}" "$TEST_DIR/$1.log" | sed 's/^/    /'
}

# remove_empty_dirs DIR...: rmdir each DIR that exists and is empty (children first).
remove_empty_dirs() {
    local dir
    for dir in "$@"; do
        [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
    done
    return 0
}

# ---------------------------------------------------------------------------------------------
# Cleanup

_compat_exit() {
    local rc=$?
    set +eu
    trap - ERR
    local action
    for ((i = ${#_CLEANUP_ACTIONS[@]} - 1; i >= 0; i--)); do
        action=${_CLEANUP_ACTIONS[i]}
        eval "$action" || log "cleanup action failed: $action"
    done
    _sweep "$TEST_DIR" "$TEST_ID" || rc=1
    if [[ -n ${KILN_COMPAT_KEEP:-} ]]; then
        log "keeping $TEST_DIR (KILN_COMPAT_KEEP)"
    else
        rm -rf --one-file-system "$TEST_DIR"
        [[ -e $TEST_DIR ]] && { log "LEFTOVER: could not remove $TEST_DIR"; rc=1; }
    fi
    local after
    after=$(_host_state)
    if [[ $after != "$_HOST_STATE_BEFORE" ]]; then
        log "LEFTOVER: host state changed during the test (< before, > after):"
        diff <(echo "$_HOST_STATE_BEFORE") <(echo "$after") | grep '^[<>]' | sed 's/^/    /'
        rc=1
    fi
    exit "$rc"
}

# Cgroup dirs named ID at the top of every hierarchy (v1 controllers and the unified mount).
_test_cgroups() {
    local id=$1 dir
    for dir in /sys/fs/cgroup/*/"$id" /sys/fs/cgroup/"$id"; do
        [[ -d $dir ]] && echo "$dir"
    done
    return 0
}

# Processes whose command line mentions DIR (daemons, shims, conmon), never this shell's ancestry.
_pids_mentioning() {
    local dir=$1 file pid self_and_ancestors=" " p=$BASHPID
    while [[ $p -gt 1 ]]; do
        self_and_ancestors+="$p "
        p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
    done
    # Bracketing the last character keeps grep's own command line from matching.
    for file in $(grep -lsa -- "${dir%?}[${dir: -1}]" /proc/[0-9]*/cmdline); do
        pid=${file#/proc/}
        pid=${pid%/cmdline}
        [[ $self_and_ancestors == *" $pid "* ]] || echo "$pid"
    done
}

_pids_in_cgroups() {
    local dir
    for dir in "$@"; do
        find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
    done | sort -u
}

_mounts_under() {
    findmnt -rn -o TARGET | grep -F -- "$1" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-
}

# _sweep DIR ID: removes what tools left behind for a test: processes, mounts, cgroups.
# Everything it has to remove is reported: after a clean run it finds nothing.
_sweep() {
    local dir=$1 id=$2 status=0 cgroups pids mnt
    [[ -n $dir && -n $id ]] || return 0
    mapfile -t cgroups < <(_test_cgroups "$id")

    # Frozen tasks cannot die: thaw first (parents before children).
    find /sys/fs/cgroup/freezer/"$id" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; \
        2>/dev/null
    # Shims and conmon exit on their own shortly after their container is deleted.
    for _ in {1..50}; do
        pids=$( (_pids_mentioning "$dir"; _pids_in_cgroups "${cgroups[@]}") | sort -u)
        [[ -z $pids ]] && break
        sleep 0.1
    done
    for _ in 1 2 3; do
        pids=$( (_pids_mentioning "$dir"; _pids_in_cgroups "${cgroups[@]}") | sort -u | paste -sd,)
        [[ -z $pids ]] && break
        log "LEFTOVER processes (killing):"
        ps -o pid=,comm=,args= -p "$pids" 2>/dev/null | cut -c1-200 | sed 's/^/    /'
        # shellcheck disable=SC2086 # one argument per pid
        kill -KILL ${pids//,/ } 2>/dev/null
        status=1
        sleep 0.5
    done

    while read -r mnt; do
        [[ -n $mnt ]] || continue
        log "LEFTOVER mount (unmounting): $mnt"
        umount "$mnt" 2>/dev/null || umount -l "$mnt" || status=1
        status=1
    done < <(_mounts_under "$dir")

    local cg hierarchy
    for cg in "${cgroups[@]}"; do
        hierarchy=$(dirname "$cg")
        if ! mountpoint -q "$hierarchy"; then
            # A plain directory on the /sys/fs/cgroup tmpfs: some tool assumed a controller that is
            # not mounted here (podman's conmon cgroup does this for net_cls).
            rm -rf "$cg"
            rmdir "$hierarchy" 2>/dev/null
            continue
        fi
        for _ in 1 2 3 4 5; do
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
            [[ -d $cg ]] || break
            sleep 0.2
        done
        [[ -d $cg ]] && { log "LEFTOVER cgroup (could not remove): $cg"; status=1; }
    done
    return "$status"
}

# Scratch dirs of earlier runs that were killed before their cleanup could run.
_sweep_stale_scratch_dirs() {
    local dir owner
    for dir in /tmp/kiln-compat-*-??????; do
        [[ -f $dir/owner.pid ]] || continue
        owner=$(<"$dir/owner.pid")
        [[ -d /proc/$owner ]] && continue
        log "sweeping $dir left by an earlier run (pid $owner)"
        _sweep "$dir" "$(basename "$dir")" || true
        rm -rf --one-file-system "$dir"
        remove_empty_dirs "/run/containerd/runc/$(basename "$dir")"
    done
}

# What a test must leave as it found it.
_host_state() {
    echo "# links"
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
    echo "# netns"
    ls -A /run/netns 2>/dev/null | sort
    echo "# iptables"
    iptables -S 2>&1; iptables -t nat -S 2>&1
    ip6tables -S 2>&1; ip6tables -t nat -S 2>&1
    echo "# ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
    echo "# cgroup hierarchies and their top-level groups"
    ls -A /sys/fs/cgroup
    ls -d /sys/fs/cgroup/*/*/ 2>/dev/null
    echo "# watched dirs"
    local d
    for d in "${_WATCHED_DIRS[@]}"; do
        [[ -d $d ]] && ls -A "$d" | sed "s|^|$d/|"
    done | grep -vxF -f <(printf '%s\n' "${_RUNTIME_ROOTS[@]}")
    # A runtime's default root may appear on first use and stay (runc keeps /run/runc), but
    # no container state may stay in it.
    for d in "${_RUNTIME_ROOTS[@]}"; do
        [[ -d $d ]] && ls -A "$d" | sed "s|^|$d/|"
    done
    compgen -G '/dev/shm/libpod*' || true
}
