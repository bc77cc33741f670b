// The last steps before execve, shared by a container's init and by exec: resource attributes,
// identity and capabilities, the working directory, file descriptors, the terminal.
// Everything here runs between clone and exec: no allocation, errors through InitError.
#pragma once

#include "core/container/plan.hpp"

namespace kiln::container {

// rlimits, oom_score_adj, personality, I/O priority, scheduler.
int apply_process_attributes(const ProcessPlan& p, InitError* e) noexcept;
// Resolves args[0] against $PATH into p.exec_path (runc's error texts, which callers such as
// podman match to choose exit codes 126 and 127).
int find_executable(const ProcessPlan& p, InitError* e) noexcept;
// Bounding set, supplementary groups (none may be asked for where setgroups is denied), gid, uid,
// then the other capability sets.
int apply_identity(const ProcessPlan& p, InitError* e) noexcept;
// chdir(cwd) and a check that it is inside the container's root (the CVE-2024-21626 class: a
// leaked directory fd or a /proc/self/fd path must not become the working directory).
int enter_cwd(const ProcessPlan& p, InitError* e) noexcept;
// Marks every fd from 3 + preserve_fds on close-on-exec, and clears it on the preserved ones.
int prepare_fds(int preserve_fds, InitError* e) noexcept;
void reset_signals() noexcept;
int set_no_new_privileges(InitError* e) noexcept;
// Opens a pty in the container's /dev/pts, binds its slave onto /dev/console (when `console`),
// sends the master over `socket`, and makes the slave the controlling terminal and stdio.
int setup_terminal(const ProcessPlan& p, int socket, bool console, InitError* e) noexcept;
// Runs a hook from inside the container's namespaces with `state` on its stdin.
int run_hook(const HookExec& h, const char* state, size_t len, InitError* e) noexcept;
[[noreturn]] void exec_process(const ProcessPlan& p) noexcept;

}  // namespace kiln::container
