// The runtime's side of starting processes in namespaces: cloning a container's init (create)
// or a process that joins a running container (exec), and driving the sync protocol.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "core/cgroups/cgroup.hpp"
#include "core/container/plan.hpp"
#include "core/sys/fd.hpp"

namespace kiln::container {

struct LaunchCallbacks {
    // State JSON handed to init's own hooks (createContainer, startContainer).
    std::function<std::string(pid_t)> init_hook_state;
    // prestart and createRuntime hooks, run while init waits before pivot_root.
    std::function<void(pid_t)> runtime_hooks;
    // A seccomp listener fd from init, for linux.seccomp.listenerPath.
    std::function<void(Fd, pid_t)> seccomp_listener;
};

// Clones a child that joins `cgroup` and execs kiln-init from its sealed memfd, sends it the
// plan, writes its id maps (through a first stage when namespaces are joined by path) and
// drives init until it reports CREATED. Returns init's pid. On failure init is killed and
// reaped, and the error carries init's own message.
pid_t launch_init(const InitPlan& plan, cgroups::Cgroup& cgroup, const LaunchCallbacks& callbacks);

struct ExecTarget {
    int pidfd = -1;      // the container's init
    int join_flags = 0;  // CLONE_NEW* of the namespaces that differ from ours
    int console_socket = -1;
};

// Starts `process` inside the container of `target`, in its namespaces and `cgroup`, and returns
// the new process's pid once it has called execve.
pid_t launch_exec(const ProcessPlan& process, const ExecTarget& target, cgroups::Cgroup& cgroup,
                  const LaunchCallbacks& callbacks);

// Namespaces of `pid` that differ from the caller's, as CLONE_NEW* flags.
int namespaces_to_join(pid_t pid);

}  // namespace kiln::container
