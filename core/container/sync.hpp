// The protocol between the runtime process and the container's init over a SOCK_SEQPACKET
// socketpair. Each message is a SyncHeader followed by `len` payload bytes.
//
//  runtime (create, run)                          init
//  ─────────────────────                          ────
//  clone3(new namespaces, INTO_CGROUP v2) ──────> copies kiln-init into a sealed memfd
//  (new user namespace: uid_map, gid_map;
//   MAPS_DONE) ─────────────────────────────────> setresuid(0) there
//                                                 execveat(kiln-init)
//  meanwhile: v1 cgroups, limits, the plan
//  PLAN + its fds (SCM_RIGHTS) ─────────────────> decodes it; "0" into each v1 `tasks`
//  GO [state JSON for init's hooks] ────────────> unshare(cgroup ns), hostname, mounts, devices
//                                   <──────────── RUNTIME_HOOKS   (only with prestart/createRuntime)
//  run prestart, createRuntime hooks
//  HOOKS_DONE ──────────────────────────────────> createContainer hooks, pivot_root, console,
//                                                 sysctls, masked and read-only paths, rlimits,
//                                                 user, capabilities, cwd
//                                   <──────────── SECCOMP_FD + fd (only with a NOTIFY listener)
//  send the fd to listenerPath
//                                   <──────────── CREATED
//  write the state record, pid file              blocks reading the exec fifo
//  `start` writes the exec fifo ────────────────> startContainer hooks, seccomp, execve
//
//  Any failure in init:             <──────────── ERROR(errno, message); init exits
//
// With namespaces joined by path, the clone makes none; kiln-init is a first stage that joins
// those before creating the rest:
//
//  PLAN + fds ──────────────────────────────────> stage 1: joins its cgroups, setns(joined),
//                                                 unshare(user)
//                                   <──────────── WANT_MAPS (new user namespace only)
//  write uid_map / gid_map; MAPS_DONE ──────────> unshare(the others), unshare(pid, time),
//                                                 time offsets, clone(CLONE_PARENT) init
//                                   <──────────── INIT_PID(pid); stage 1 exits
//  ... then GO and the rest as above, with init.
//
// `exec` uses the same socket. The runtime clones a child in its own namespaces, which execs
// kiln-init; PLAN + fds; kiln-init joins the cgroups and the container's namespaces (into a pid
// namespace through a CLONE_PARENT child of its own, whose pid comes back in INIT_PID); GO;
// then the socket closes on execve (O_CLOEXEC), or ERROR arrives.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::container {

enum class SyncType : uint32_t {
    go = 1,
    runtime_hooks,
    hooks_done,
    seccomp_fd,
    created,
    error,
    want_maps,
    maps_done,
    init_pid,
    plan,
};

struct SyncHeader {
    SyncType type;
    int32_t err;
    int32_t pid;
    uint32_t len;
};

// Both return 0 / bytes of payload received, or -errno; -EPIPE when the peer is gone.
// Async-signal-safe.
int sync_send(int fd, SyncType type, int err = 0, int pid = 0, const void* payload = nullptr,
              size_t len = 0) noexcept;
int sync_recv(int fd, SyncHeader* header, void* payload, size_t capacity) noexcept;
// Waits for one message of `type`; an ERROR from the peer comes back as its errno (negated).
int sync_expect(int fd, SyncType type, void* payload = nullptr, size_t capacity = 0) noexcept;

const char* sync_type_name(SyncType type) noexcept;

}  // namespace kiln::container
