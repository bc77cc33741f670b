// Guard against the CVE-2019-5736 class: no process inside a container may be able to reach a
// kiln binary on the host through /proc/<pid>/exe. Every process that enters a container runs
// kiln-init, a small program embedded in the runtime and executed from a sealed memfd copy:
// writing to it fails, and it names no file on the host.
#pragma once

#include <cstddef>

namespace kiln::container {

// The sealed memfd holding kiln-init, made on first use and kept open (close-on-exec) for the
// life of the process.
int sealed_init_fd();

// The embedded program (for tests and size reports).
size_t embedded_init_size();

}  // namespace kiln::container
