// Idmapped mounts: a detached copy of a path's mount, its ids shown through a user namespace's
// mappings (mount_setattr MOUNT_ATTR_IDMAP), ready to be moved into place.
#pragma once

#include "core/sys/fd.hpp"

namespace kiln::sys {

// A detached clone of the mount at `path` (with the mounts below it when `recursive`),
// idmapped through the user namespace `userns_fd` (the mounts below too when
// `idmap_recursive`). An empty Fd and errno set when it cannot be made: EINVAL when the
// filesystem does not support idmapped mounts.
Fd idmapped_clone(const char* path, int userns_fd, bool recursive = false, bool idmap_recursive = false);

}  // namespace kiln::sys
