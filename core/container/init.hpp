// The child sides of the sync protocol (see sync.hpp): the optional first stage that joins
// namespaces by path, the container's init, and a process exec'd into a running container.
// None returns.
#pragma once

#include "core/container/plan.hpp"

namespace kiln::container {

[[noreturn]] void stage1_main(const InitPlan& plan, int sync_fd) noexcept;
[[noreturn]] void init_main(const InitPlan& plan, int sync_fd) noexcept;
// A process joining a running container (exec): the namespaces of the plan's pidfd, then the
// process setup init also does.
[[noreturn]] void exec_main(const ExecPlan& plan, int sync_fd) noexcept;

}  // namespace kiln::container
