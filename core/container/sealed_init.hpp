// Guard against the CVE-2019-5736 class: no process inside a container may be able to reach a
// kiln binary on the host through /proc/<pid>/exe. Every process that enters a container runs
// kiln-init, a small program embedded in the runtime and executed from a sealed memfd copy:
// writing to it fails, and it names no file on the host.
#pragma once

#include <cstddef>

namespace kiln::container {

// A sealed memfd holding kiln-init: its fd (close-on-exec), or -errno. Async-signal-safe, and
// leaves errno alone: the child makes it between clone and exec, in the runtime's memory, while
// the runtime goes on preparing.
int make_sealed_init() noexcept;

// False where executable memfds are refused (vm.memfd_noexec=2, set per pid namespace).
// Probed once per process.
bool memfd_exec_allowed() noexcept;

// The fallback there, made by the runtime before the clone: an unlinked file (O_TMPFILE) in
// `dir` holding kiln-init, reopened read-only (nothing can write to it: no path reaches it and
// the only writable fd is closed). Its fd (close-on-exec), or -errno.
int make_unlinked_init(const char* dir) noexcept;

// The embedded program's size (for tests and size reports).
size_t embedded_init_size() noexcept;

}  // namespace kiln::container
