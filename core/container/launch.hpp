// The runtime's side of starting processes in namespaces (the protocol is drawn in sync.hpp).
// The child is cloned early and becomes kiln-init while the runtime is still preparing: the
// cgroups, the plan and its fds follow once they exist, and the two sides work at once.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "core/cgroups/cgroup.hpp"
#include "core/container/init_clone.hpp"
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

// A child that copies the embedded kiln-init into a sealed memfd and execs it. Until released
// it is killed and reaped when this object goes away, so a failed create leaves no process.
class InitProcess {
public:
    // For create: clones with the namespaces of `ns` (all at once in one stage; none when a
    // first stage joins some by path), into the v2 cgroup directory `cgroup_v2_dir` when it is
    // not -1. With a new user namespace in one stage, the id maps are written here.
    static InitProcess for_create(const NamespacePlan& ns, int cgroup_v2_dir);
    // For exec: cloned in the runtime's own namespaces; kiln-init joins the container's.
    static InitProcess for_exec(int cgroup_v2_dir);

    InitProcess(InitProcess&&) noexcept;
    ~InitProcess();

    // Sends the plan (its fds travel with it) and drives init until it reports CREATED.
    // Returns init's pid; the error on failure carries init's own message.
    pid_t create(InitPlan& plan, const LaunchCallbacks& callbacks);
    // Sends the exec plan and returns the new process's pid once it has called execve.
    pid_t exec(ExecPlan& plan, const LaunchCallbacks& callbacks);

private:
    // `child_unshares`: namespaces the child makes itself (unshare) before it execs kiln-init.
    InitProcess(const char* mode, uint64_t flags, int cgroup_v2_dir, int child_unshares);
    void reap();

    Fd sock_;
    pid_t pid_ = 0;
    // Freed after reap(): the child runs on it until its execveat.
    InitChildStack stack_;
};

// Namespaces of `pid` that differ from the caller's, as CLONE_NEW* flags.
int namespaces_to_join(pid_t pid);

}  // namespace kiln::container
