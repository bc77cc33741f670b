// Guard against the CVE-2019-5736 class: no process inside a container may be able to reach a
// kiln binary on the host through /proc/<pid>/exe. Every process that enters a container runs
// kiln-init, a small program embedded in the runtime and executed from a sealed memfd copy:
// writing to it fails, and it names no file on the host.
#pragma once

#include <cstddef>

namespace kiln::container {

// A sealed memfd holding kiln-init: its fd (close-on-exec), or -errno. Async-signal-safe: the
// child makes it between clone and exec, while the runtime goes on preparing.
int make_sealed_init() noexcept;

// The embedded program's size (for tests and size reports).
size_t embedded_init_size() noexcept;

}  // namespace kiln::container
