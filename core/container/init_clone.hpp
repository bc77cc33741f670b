// The clone of the child that becomes kiln-init. It shares the runtime's memory (CLONE_VM) on a
// stack of its own until its execveat, as posix_spawn's child does: the runtime's pages are not
// copied for it, nor copied again when the runtime writes them while the child starts. The
// child makes only raw system calls (core/sys/raw_syscall.hpp) and touches nothing but its stack.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace kiln::container {

// What the child does between clone and execveat.
struct InitChildTask {
    const char* mode = "init";  // kiln-init's first argument
    int sync_fd = -1;           // inherited by kiln-init (its close-on-exec flag is cleared)
    int program_fd = -1;        // the copy of kiln-init to exec; -1: a sealed memfd the child makes
    bool new_user = false;      // wait for MAPS_DONE on sync_fd, then become root in the namespace
    int unshare_flags = 0;      // namespaces the child makes itself (after becoming root), as
                                // unshare(2) takes them: made while the runtime works on
};

// The memory the child runs on: its task, its arguments and its stack. Freed with this object,
// which must outlive the child's execveat (the owner kills and reaps a child that has not
// exec'd before it lets this go).
class InitChildStack {
public:
    InitChildStack() = default;
    InitChildStack(InitChildStack&& other) noexcept;
    InitChildStack& operator=(InitChildStack&& other) noexcept;
    ~InitChildStack();

    void* base = nullptr;
    size_t size = 0;
};

// clone3 with `flags` (and CLONE_INTO_CGROUP when cgroup_fd is not -1). Returns the child's pid
// or -errno; the child runs `task` and never returns here.
long clone_init_child(const InitChildTask& task, uint64_t flags, int cgroup_fd, InitChildStack& stack) noexcept;

}  // namespace kiln::container
