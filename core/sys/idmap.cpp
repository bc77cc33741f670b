// Idmapped mounts (see idmap.hpp).
#include "core/sys/idmap.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstdint>

#include "core/sys/syscalls.hpp"

namespace kiln::sys {

Fd idmapped_clone(const char* path, int userns_fd, bool recursive, bool idmap_recursive) {
    Fd tree(open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
    if (!tree) return tree;
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<std::uint64_t>(userns_fd);
    if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | (idmap_recursive ? AT_RECURSIVE : 0), &attr) < 0) {
        int err = errno;
        tree.reset();
        errno = err;
    }
    return tree;
}

}  // namespace kiln::sys
