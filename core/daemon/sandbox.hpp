// A pod's sandbox: the kiln-pause process that holds the namespaces the pod's containers share.
// It runs no image, so kilnd starts it directly (posix_spawn, like every program kilnd starts)
// rather than as a container through a monitor and the runtime: it is a clone into new
// namespaces and a cgroup, with every privilege dropped (core/monitor/pause.c).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/daemon/pod_spec.hpp"

namespace kiln::daemon {

struct SandboxParams {
    const PodSpec* pod = nullptr;
    std::string pause_binary;
    std::string root;          // an empty directory: the mount point of the sandbox's own root
    std::string cgroups_path;  // absolute, e.g. /kiln/web/_sandbox
    // A user namespace of the pod's own, owning its other namespaces: /proc/PID/uid_map and
    // gid_map text ("0 100000 65536"); empty: the host's.
    std::string uid_map, gid_map;
};

struct SandboxStarted {
    pid_t launcher_pid = 0;           // kiln-pause's first process: the holder's parent and reaper
    std::uint64_t launcher_start_time = 0;  // with the pid, names the process (core/sys/proc.hpp)
    pid_t pid = 0;                    // the holder, whose namespaces the containers join
    std::string started_at;
};

// Creates the sandbox's cgroup and starts kiln-pause, whose holder runs in it. Throws kiln::Error
// with kiln-pause's own account of a failure; nothing it started is left running. kilnd watches
// the launcher, its child, as it watches a monitor: it exits when the holder has ended, and
// SIGTERM to it ends the holder.
SandboxStarted start_sandbox(const SandboxParams& p);

// The sandbox running in the cgroup at `cgroups_path`, if any: how kilnd finds one it started
// but did not live to record.
std::optional<SandboxStarted> find_sandbox(const std::string& cgroups_path);

}  // namespace kiln::daemon
