// The container's root filesystem, built by init in its new mount namespace: mounts (resolved
// inside the rootfs without following a symlink out of it), devices, pivot_root, and the
// finishing touches (sysctls, read-only and masked paths, read-only root).
// Everything here runs between clone and exec: no allocation, errors through InitError.
#pragma once

#include "core/container/os.hpp"
#include "core/container/plan.hpp"

namespace kiln::container {

// Opens `path` (absolute, in the container) below `rootfd`, never leaving it: symlinks and ".."
// resolve as if `rootfd` were "/". Returns an O_PATH fd or -1 with `e` filled.
int open_in_root(Os& os, int rootfd, const char* path, int flags, InitError* e) noexcept;
// mkdir -p of `path` inside the root; with `file`, the last component is an empty file.
int make_in_root(Os& os, int rootfd, const char* path, bool file, InitError* e) noexcept;

// Propagation of "/", the rootfs bound onto itself, then every mount and device.
int prepare_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept;
// pivot_root into the rootfs (or MS_MOVE + chroot with no_pivot); the old root is detached.
int enter_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept;
// After the pivot: sysctls, readonly and masked paths, read-only /dev and root.
int finalize_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept;

}  // namespace kiln::container
