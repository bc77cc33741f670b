// Guard against the CVE-2019-5736 class: a process inside a container must never be able to
// reach the runtime's binary on the host through /proc/<pid>/exe. Before it touches a container,
// the runtime re-executes itself from a sealed, in-memory copy of its binary.
#pragma once

namespace kiln::container {

// Returns when the running program already is a sealed copy; otherwise copies it into a sealed
// memfd and execs that (does not return on success). Throws kiln::SysError on failure.
void ensure_cloned_binary(char** argv, char** envp);

// Whether the running program is a sealed copy.
bool is_cloned_binary();

}  // namespace kiln::container
